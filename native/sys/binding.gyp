{
  "targets": [
    {
      "target_name": "dwsys",
      "sources": ["binding.cc", "gf.cc", "aead.cc"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra"]
    }
  ]
}
