{
  "targets": [
    {
      "target_name": "dwmem",
      "sources": ["binding.cc"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra"]
    }
  ]
}
