// A thin N-API binding to libfuse3's low-level API (issue 4). The FUSE session loop runs on its
// own thread; every request is copied into a heap record and handed to JavaScript through a
// thread-safe function, and JavaScript answers later with one of the reply functions, which call
// fuse_reply_* from the JS thread (libfuse allows a reply from any thread). No file system logic
// lives here: protocols/fuse/ decides everything. Attributes cross as a Float64Array-compatible
// list of numbers (see attrList in protocols/fuse/wire/ops.ts).
#define FUSE_USE_VERSION 35
#define NAPI_VERSION 8
#include <fuse_lowlevel.h>
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#define CHECK(call)                                                         \
  do {                                                                      \
    if ((call) != napi_ok) {                                                \
      napi_throw_error(env, "EFUSEBINDING", "N-API call failed: " #call);   \
      return nullptr;                                                       \
    }                                                                       \
  } while (0)

// Op codes shared with protocols/fuse/wire/ops.ts.
enum Op {
  OP_LOOKUP = 1, OP_FORGET, OP_GETATTR, OP_SETATTR, OP_READLINK, OP_MKNOD, OP_MKDIR, OP_UNLINK,
  OP_RMDIR, OP_SYMLINK, OP_RENAME, OP_LINK, OP_OPEN, OP_READ, OP_WRITE, OP_FLUSH, OP_RELEASE,
  OP_FSYNC, OP_OPENDIR, OP_READDIR, OP_RELEASEDIR, OP_FSYNCDIR, OP_STATFS, OP_SETXATTR,
  OP_GETXATTR, OP_LISTXATTR, OP_REMOVEXATTR, OP_ACCESS, OP_CREATE, OP_GETLK, OP_SETLK,
  OP_FLOCK, OP_FALLOCATE, OP_READDIRPLUS, OP_LSEEK, OP_COPY_FILE_RANGE, OP_INIT, OP_DESTROY,
};

// One request on its way to JavaScript. Numbers go in n[], strings in s1/s2, data in data.
struct Call {
  int op;
  fuse_req_t req;
  double n[12];
  int nn;
  std::string s1, s2;
  char *data;
  size_t len;
  uid_t uid;
  gid_t gid;
  pid_t pid;
};

// A cache invalidation for the kernel: an inode's attributes and pages (name empty), or one
// name in a directory. Sent from a thread of its own: the kernel may wait inside the notify
// call for a request on the same inode to be answered, and the answer comes from JavaScript.
struct Note {
  fuse_ino_t ino;
  std::string name;
};

struct Session {
  struct fuse_session *se;
  napi_threadsafe_function tsfn;
  pthread_t thread;
  bool running;
  std::string mountpoint;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Note> notes;
  bool stopping = false;
  std::thread notifier;
};

// More notes than this waiting are dropped: the kernel's caches then expire on their own
// (the entry and attribute timeouts), so a burst costs staleness within the timeout, not memory.
static const size_t MAX_NOTES = 65536;

static void notify_loop(Session *s) {
  std::unique_lock<std::mutex> lock(s->mu);
  for (;;) {
    s->cv.wait(lock, [s] { return s->stopping || !s->notes.empty(); });
    if (s->stopping) return;
    Note n = std::move(s->notes.front());
    s->notes.pop_front();
    lock.unlock();
    // Errors (ENOENT: the kernel does not know the inode or name) need no answer.
    if (n.name.empty()) fuse_lowlevel_notify_inval_inode(s->se, n.ino, 0, 0);
    else fuse_lowlevel_notify_inval_entry(s->se, n.ino, n.name.c_str(), n.name.size());
    lock.lock();
  }
}

static void enqueue(fuse_req_t req, Call *c) {
  Session *s = (Session *)fuse_req_userdata(req);
  c->req = req;
  const struct fuse_ctx *ctx = fuse_req_ctx(req);
  c->uid = ctx->uid;
  c->gid = ctx->gid;
  c->pid = ctx->pid;
  if (napi_call_threadsafe_function(s->tsfn, c, napi_tsfn_blocking) != napi_ok) {
    if (req) fuse_reply_err(req, EIO);
    free(c->data);
    delete c;
  }
}

static Call *mk(int op) {
  Call *c = new Call();
  c->op = op;
  c->nn = 0;
  c->data = nullptr;
  c->len = 0;
  return c;
}

static void push(Call *c, double v) { c->n[c->nn++] = v; }

// Lock owners are kernel pointers (beyond 2^53): they cross as hex strings in s2.
static std::string hex(uint64_t v) { char b[17]; snprintf(b, sizeof b, "%016llx", (unsigned long long)v); return b; }

// Enqueues a call with a copy of data (the kernel's buffer is gone once the callback returns).
static void enqueue_with(fuse_req_t r, Call *c, const char *data, size_t size) {
  c->data = (char *)malloc(size ? size : 1);
  if (!c->data) { delete c; fuse_reply_err(r, ENOMEM); return; }
  memcpy(c->data, data, size);
  c->len = size;
  enqueue(r, c);
}

static void ll_lookup(fuse_req_t r, fuse_ino_t p, const char *name) { Call *c = mk(OP_LOOKUP); push(c, p); c->s1 = name; enqueue(r, c); }
static void ll_forget(fuse_req_t r, fuse_ino_t ino, uint64_t n) { fuse_reply_none(r); (void)ino; (void)n; }
static void ll_forget_multi(fuse_req_t r, size_t count, struct fuse_forget_data *f) { fuse_reply_none(r); (void)count; (void)f; }
static void ll_getattr(fuse_req_t r, fuse_ino_t ino, struct fuse_file_info *fi) { Call *c = mk(OP_GETATTR); push(c, ino); push(c, fi ? (double)fi->fh : -1); enqueue(r, c); }
static void ll_setattr(fuse_req_t r, fuse_ino_t ino, struct stat *a, int to_set, struct fuse_file_info *fi) {
  Call *c = mk(OP_SETATTR);
  push(c, ino); push(c, to_set); push(c, a->st_mode); push(c, a->st_uid); push(c, a->st_gid); push(c, (double)a->st_size);
  push(c, (double)a->st_atim.tv_sec); push(c, (double)a->st_atim.tv_nsec); push(c, (double)a->st_mtim.tv_sec); push(c, (double)a->st_mtim.tv_nsec);
  push(c, fi ? (double)fi->fh : -1);
  enqueue(r, c);
}
static void ll_readlink(fuse_req_t r, fuse_ino_t ino) { Call *c = mk(OP_READLINK); push(c, ino); enqueue(r, c); }
static void ll_mknod(fuse_req_t r, fuse_ino_t p, const char *name, mode_t mode, dev_t rdev) { Call *c = mk(OP_MKNOD); push(c, p); push(c, mode); push(c, (double)rdev); c->s1 = name; enqueue(r, c); }
static void ll_mkdir(fuse_req_t r, fuse_ino_t p, const char *name, mode_t mode) { Call *c = mk(OP_MKDIR); push(c, p); push(c, mode); c->s1 = name; enqueue(r, c); }
static void ll_unlink(fuse_req_t r, fuse_ino_t p, const char *name) { Call *c = mk(OP_UNLINK); push(c, p); c->s1 = name; enqueue(r, c); }
static void ll_rmdir(fuse_req_t r, fuse_ino_t p, const char *name) { Call *c = mk(OP_RMDIR); push(c, p); c->s1 = name; enqueue(r, c); }
static void ll_symlink(fuse_req_t r, const char *link, fuse_ino_t p, const char *name) { Call *c = mk(OP_SYMLINK); push(c, p); c->s1 = name; c->s2 = link; enqueue(r, c); }
static void ll_rename(fuse_req_t r, fuse_ino_t p, const char *name, fuse_ino_t np, const char *nn, unsigned int flags) {
  Call *c = mk(OP_RENAME); push(c, p); push(c, np); push(c, flags); c->s1 = name; c->s2 = nn; enqueue(r, c);
}
static void ll_link(fuse_req_t r, fuse_ino_t ino, fuse_ino_t np, const char *nn) { Call *c = mk(OP_LINK); push(c, ino); push(c, np); c->s1 = nn; enqueue(r, c); }
static void ll_open(fuse_req_t r, fuse_ino_t ino, struct fuse_file_info *fi) { Call *c = mk(OP_OPEN); push(c, ino); push(c, fi->flags); enqueue(r, c); }
static void ll_read(fuse_req_t r, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  Call *c = mk(OP_READ); push(c, ino); push(c, (double)fi->fh); push(c, (double)off); push(c, (double)size); enqueue(r, c);
}
static void ll_write(fuse_req_t r, fuse_ino_t ino, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  Call *c = mk(OP_WRITE); push(c, ino); push(c, (double)fi->fh); push(c, (double)off);
  enqueue_with(r, c, buf, size);
}
static void ll_flush(fuse_req_t r, fuse_ino_t ino, struct fuse_file_info *fi) { Call *c = mk(OP_FLUSH); push(c, ino); push(c, (double)fi->fh); c->s2 = hex(fi->lock_owner); enqueue(r, c); }
// n: [ino, fh, type (F_RDLCK 0, F_WRLCK 1, F_UNLCK 2), start, len (0: to the end), pid, sleep]
static void lk(fuse_req_t r, int op, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *l, int sleep) {
  Call *c = mk(op); push(c, ino); push(c, (double)fi->fh); push(c, l->l_type); push(c, (double)l->l_start); push(c, (double)l->l_len); push(c, l->l_pid); push(c, sleep);
  c->s2 = hex(fi->lock_owner);
  enqueue(r, c);
}
static void ll_getlk(fuse_req_t r, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *l) { lk(r, OP_GETLK, ino, fi, l, 0); }
static void ll_setlk(fuse_req_t r, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *l, int sleep) { lk(r, OP_SETLK, ino, fi, l, sleep); }
static void ll_release(fuse_req_t r, fuse_ino_t ino, struct fuse_file_info *fi) {
  Call *c = mk(OP_RELEASE); push(c, ino); push(c, (double)fi->fh); push(c, fi->flock_release); c->s2 = hex(fi->lock_owner); enqueue(r, c);
}
// n: [ino, fh, op (LOCK_SH 1, LOCK_EX 2, LOCK_NB 4, LOCK_UN 8)]; s2: the open file's lock owner.
static void ll_flock(fuse_req_t r, fuse_ino_t ino, struct fuse_file_info *fi, int op) {
  Call *c = mk(OP_FLOCK); push(c, ino); push(c, (double)fi->fh); push(c, op); c->s2 = hex(fi->lock_owner); enqueue(r, c);
}
static void ll_fsync(fuse_req_t r, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) { Call *c = mk(OP_FSYNC); push(c, ino); push(c, (double)fi->fh); push(c, datasync); enqueue(r, c); }
static void ll_opendir(fuse_req_t r, fuse_ino_t ino, struct fuse_file_info *fi) { Call *c = mk(OP_OPENDIR); push(c, ino); push(c, fi->flags); enqueue(r, c); }
static void ll_readdir(fuse_req_t r, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  Call *c = mk(OP_READDIR); push(c, ino); push(c, (double)fi->fh); push(c, (double)off); push(c, (double)size); enqueue(r, c);
}
static void ll_readdirplus(fuse_req_t r, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  Call *c = mk(OP_READDIRPLUS); push(c, ino); push(c, (double)fi->fh); push(c, (double)off); push(c, (double)size); enqueue(r, c);
}
static void ll_releasedir(fuse_req_t r, fuse_ino_t ino, struct fuse_file_info *fi) { Call *c = mk(OP_RELEASEDIR); push(c, ino); push(c, (double)fi->fh); enqueue(r, c); }
static void ll_fsyncdir(fuse_req_t r, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) { Call *c = mk(OP_FSYNCDIR); push(c, ino); push(c, (double)fi->fh); push(c, datasync); enqueue(r, c); }
static void ll_statfs(fuse_req_t r, fuse_ino_t ino) { Call *c = mk(OP_STATFS); push(c, ino); enqueue(r, c); }
static void ll_setxattr(fuse_req_t r, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags) {
  Call *c = mk(OP_SETXATTR); push(c, ino); push(c, flags); c->s1 = name;
  enqueue_with(r, c, value, size);
}
// The kernel asks for security.capability before every write (to drop file capabilities); the VFS
// keeps none (vfs/meta/metastore.ts refuses to set it), so the answer needs no trip to JavaScript.
static void ll_getxattr(fuse_req_t r, fuse_ino_t ino, const char *name, size_t size) {
  if (strcmp(name, "security.capability") == 0) { fuse_reply_err(r, ENODATA); return; }
  Call *c = mk(OP_GETXATTR); push(c, ino); push(c, (double)size); c->s1 = name; enqueue(r, c);
}
static void ll_listxattr(fuse_req_t r, fuse_ino_t ino, size_t size) { Call *c = mk(OP_LISTXATTR); push(c, ino); push(c, (double)size); enqueue(r, c); }
static void ll_removexattr(fuse_req_t r, fuse_ino_t ino, const char *name) { Call *c = mk(OP_REMOVEXATTR); push(c, ino); c->s1 = name; enqueue(r, c); }
static void ll_access(fuse_req_t r, fuse_ino_t ino, int mask) { Call *c = mk(OP_ACCESS); push(c, ino); push(c, mask); enqueue(r, c); }
static void ll_create(fuse_req_t r, fuse_ino_t p, const char *name, mode_t mode, struct fuse_file_info *fi) {
  Call *c = mk(OP_CREATE); push(c, p); push(c, mode); push(c, fi->flags); c->s1 = name; enqueue(r, c);
}
static void ll_fallocate(fuse_req_t r, fuse_ino_t ino, int mode, off_t off, off_t len, struct fuse_file_info *fi) {
  Call *c = mk(OP_FALLOCATE); push(c, ino); push(c, (double)fi->fh); push(c, mode); push(c, (double)off); push(c, (double)len); enqueue(r, c);
}
static void ll_lseek(fuse_req_t r, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi) {
  Call *c = mk(OP_LSEEK); push(c, ino); push(c, (double)fi->fh); push(c, (double)off); push(c, whence); enqueue(r, c);
}
// n: [ino_in, fh_in, off_in, ino_out, fh_out, off_out, len, flags]; answered with fuse_reply_write (replyWrite).
static void ll_copy_file_range(fuse_req_t r, fuse_ino_t ino_in, off_t off_in, struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
                               struct fuse_file_info *fi_out, size_t len, int flags) {
  Call *c = mk(OP_COPY_FILE_RANGE); push(c, ino_in); push(c, (double)fi_in->fh); push(c, (double)off_in);
  push(c, ino_out); push(c, (double)fi_out->fh); push(c, (double)off_out); push(c, (double)len); push(c, flags);
  enqueue(r, c);
}

static void ll_init(void *userdata, struct fuse_conn_info *conn) {
  (void)userdata;
  // Big requests: up to 1 MiB per write (the kernel allows 256 pages per request).
  conn->max_write = 1 << 20;
  conn->max_readahead = 16 << 20;  // an upper bound: protocols/fuse/server.ts sets the read-ahead in sysfs
  if (conn->capable & FUSE_CAP_SPLICE_READ) conn->want &= ~FUSE_CAP_SPLICE_READ;
  if (conn->capable & FUSE_CAP_READDIRPLUS) conn->want |= FUSE_CAP_READDIRPLUS;
  // Cached pages are dropped by our notices when another protocol changes a file, and at open;
  // without this the kernel also asks GETATTR before every read that follows a write.
  conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
}

static const struct fuse_lowlevel_ops OPS = [] {
  struct fuse_lowlevel_ops o;
  memset(&o, 0, sizeof o);
  o.init = ll_init;
  o.lookup = ll_lookup; o.forget = ll_forget; o.forget_multi = ll_forget_multi; o.getattr = ll_getattr;
  o.setattr = ll_setattr; o.readlink = ll_readlink; o.mknod = ll_mknod; o.mkdir = ll_mkdir;
  o.unlink = ll_unlink; o.rmdir = ll_rmdir; o.symlink = ll_symlink; o.rename = ll_rename; o.link = ll_link;
  o.open = ll_open; o.read = ll_read; o.write = ll_write; o.flush = ll_flush; o.release = ll_release;
  o.fsync = ll_fsync; o.opendir = ll_opendir; o.readdir = ll_readdir; o.readdirplus = ll_readdirplus;
  o.releasedir = ll_releasedir; o.fsyncdir = ll_fsyncdir; o.statfs = ll_statfs; o.setxattr = ll_setxattr;
  o.getxattr = ll_getxattr; o.listxattr = ll_listxattr; o.removexattr = ll_removexattr; o.access = ll_access;
  o.create = ll_create; o.fallocate = ll_fallocate; o.lseek = ll_lseek; o.getlk = ll_getlk; o.setlk = ll_setlk; o.flock = ll_flock;
  o.copy_file_range = ll_copy_file_range;
  return o;
}();

// ---- JS side -------------------------------------------------------------------------------

static void call_js(napi_env env, napi_value handler, void *context, void *data) {
  (void)context;
  Call *c = (Call *)data;
  if (!env) {  // the function is being torn down: answer what is left
    if (c->req) fuse_reply_err(c->req, EIO);
    free(c->data);
    delete c;
    return;
  }
  napi_value args[7], undef;
  napi_get_undefined(env, &undef);
  napi_create_int32(env, c->op, &args[0]);
  napi_create_external(env, c->req, nullptr, nullptr, &args[1]);
  napi_value nums;
  napi_create_array_with_length(env, c->nn, &nums);
  for (int i = 0; i < c->nn; i++) {
    napi_value v;
    napi_create_double(env, c->n[i], &v);
    napi_set_element(env, nums, i, v);
  }
  args[2] = nums;
  napi_create_string_utf8(env, c->s1.c_str(), c->s1.size(), &args[3]);
  napi_create_string_utf8(env, c->s2.c_str(), c->s2.size(), &args[4]);
  if (c->data) napi_create_buffer_copy(env, c->len, c->data, nullptr, &args[5]);
  else args[5] = undef;
  napi_value ctx;
  napi_create_array_with_length(env, 3, &ctx);
  napi_value v;
  napi_create_uint32(env, c->uid, &v); napi_set_element(env, ctx, 0, v);
  napi_create_uint32(env, c->gid, &v); napi_set_element(env, ctx, 1, v);
  napi_create_int32(env, c->pid, &v); napi_set_element(env, ctx, 2, v);
  args[6] = ctx;
  free(c->data);
  delete c;
  napi_value result;
  napi_call_function(env, undef, handler, 7, args, &result);
}

static void *loop_thread(void *arg) {
  Session *s = (Session *)arg;
  fuse_session_loop(s->se);
  napi_release_threadsafe_function(s->tsfn, napi_tsfn_release);
  return nullptr;
}

static fuse_req_t req_of(napi_env env, napi_value v) {
  void *p = nullptr;
  napi_get_value_external(env, v, &p);
  return (fuse_req_t)p;
}

static double num(napi_env env, napi_value v) {
  double d = 0;
  napi_get_value_double(env, v, &d);
  return d;
}

static void get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  for (size_t i = argc; i < want; i++) napi_get_undefined(env, &argv[i]);
}

// attr: [ino, mode, nlink, uid, gid, rdev, size, blocks, atime_s, atime_ns, mtime_s, mtime_ns, ctime_s, ctime_ns, blksize]
static void fill_stat(napi_env env, napi_value arr, struct stat *st) {
  memset(st, 0, sizeof *st);
  double f[15] = {0};
  for (uint32_t i = 0; i < 15; i++) {
    napi_value v;
    if (napi_get_element(env, arr, i, &v) == napi_ok) f[i] = num(env, v);
  }
  st->st_ino = (ino_t)f[0]; st->st_mode = (mode_t)f[1]; st->st_nlink = (nlink_t)f[2];
  st->st_uid = (uid_t)f[3]; st->st_gid = (gid_t)f[4]; st->st_rdev = (dev_t)f[5];
  st->st_size = (off_t)f[6]; st->st_blocks = (blkcnt_t)f[7];
  st->st_atim.tv_sec = (time_t)f[8]; st->st_atim.tv_nsec = (long)f[9];
  st->st_mtim.tv_sec = (time_t)f[10]; st->st_mtim.tv_nsec = (long)f[11];
  st->st_ctim.tv_sec = (time_t)f[12]; st->st_ctim.tv_nsec = (long)f[13];
  st->st_blksize = f[14] ? (blksize_t)f[14] : 4096;
}

// mount(mountpoint, options: string[], handler) → session external
static napi_value Mount(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  get_args(env, info, 3, argv);
  char mp[4096];
  size_t n;
  CHECK(napi_get_value_string_utf8(env, argv[0], mp, sizeof mp, &n));
  uint32_t count = 0;
  CHECK(napi_get_array_length(env, argv[1], &count));
  std::vector<std::string> opts{"dw"};
  for (uint32_t i = 0; i < count; i++) {
    napi_value v;
    char buf[1024];
    CHECK(napi_get_element(env, argv[1], i, &v));
    CHECK(napi_get_value_string_utf8(env, v, buf, sizeof buf, &n));
    opts.push_back(buf);
  }
  std::vector<char *> cargv;
  for (auto &o : opts) cargv.push_back((char *)o.c_str());
  struct fuse_args args = FUSE_ARGS_INIT((int)cargv.size(), cargv.data());
  Session *s = new Session();
  s->mountpoint = mp;
  s->se = fuse_session_new(&args, &OPS, sizeof OPS, s);
  if (!s->se) {
    delete s;
    napi_throw_error(env, "EINVAL", "fuse_session_new failed (bad mount options?)");
    return nullptr;
  }
  if (fuse_session_mount(s->se, mp) != 0) {
    fuse_session_destroy(s->se);
    delete s;
    napi_throw_error(env, "EMOUNT", "fuse_session_mount failed (is /dev/fuse there, the folder empty, and are you root?)");
    return nullptr;
  }
  napi_value name;
  napi_create_string_utf8(env, "dw-fuse", NAPI_AUTO_LENGTH, &name);
  CHECK(napi_create_threadsafe_function(env, argv[2], nullptr, name, 0, 1, nullptr, nullptr, nullptr, call_js, &s->tsfn));
  s->running = true;
  s->notifier = std::thread(notify_loop, s);
  if (pthread_create(&s->thread, nullptr, loop_thread, s) != 0) {
    { std::lock_guard<std::mutex> g(s->mu); s->stopping = true; }
    s->cv.notify_all();
    s->notifier.join();
    fuse_session_unmount(s->se);
    fuse_session_destroy(s->se);
    napi_release_threadsafe_function(s->tsfn, napi_tsfn_abort);
    delete s;
    napi_throw_error(env, "EAGAIN", "cannot start the FUSE thread");
    return nullptr;
  }
  napi_value ext;
  CHECK(napi_create_external(env, s, nullptr, nullptr, &ext));
  return ext;
}

// unmount(session): stops the loop, unmounts, waits for the thread, frees the session.
static napi_value Unmount(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  get_args(env, info, 1, argv);
  void *p = nullptr;
  CHECK(napi_get_value_external(env, argv[0], &p));
  Session *s = (Session *)p;
  if (!s || !s->running) return nullptr;
  s->running = false;
  { std::lock_guard<std::mutex> g(s->mu); s->stopping = true; s->notes.clear(); }
  s->cv.notify_all();
  fuse_session_exit(s->se);
  fuse_session_unmount(s->se);  // the kernel ends the connection; the loop's read returns
  pthread_join(s->thread, nullptr);
  s->notifier.join();  // a notify in progress returns once the connection is gone
  fuse_session_destroy(s->se);
  return nullptr;
}

static Session *session_of(napi_env env, napi_value v) {
  void *p = nullptr;
  napi_get_value_external(env, v, &p);
  return (Session *)p;
}

static void add_note(Session *s, fuse_ino_t ino, std::string name) {
  {
    std::lock_guard<std::mutex> g(s->mu);
    if (s->stopping || s->notes.size() >= MAX_NOTES) return;
    s->notes.push_back(Note{ino, std::move(name)});
  }
  s->cv.notify_one();
}

// notifyInode(session, ino): the kernel drops its cached attributes and pages of ino.
static napi_value NotifyInode(napi_env env, napi_callback_info info) {
  napi_value a[2]; get_args(env, info, 2, a);
  Session *s = session_of(env, a[0]);
  if (s && s->running) add_note(s, (fuse_ino_t)num(env, a[1]), std::string());
  return nullptr;
}

// notifyEntry(session, parent, name): the kernel drops its cached lookup of name in parent.
static napi_value NotifyEntry(napi_env env, napi_callback_info info) {
  napi_value a[3]; get_args(env, info, 3, a);
  Session *s = session_of(env, a[0]);
  char name[1024];
  size_t n = 0;
  if (napi_get_value_string_utf8(env, a[2], name, sizeof name, &n) != napi_ok || n == 0) return nullptr;
  if (s && s->running) add_note(s, (fuse_ino_t)num(env, a[1]), std::string(name, n));
  return nullptr;
}

// The replies that take one number after the request: replyErr(req, errno), replyWrite(req, count),
// replyXattr(req, size), replyLseek(req, offset).
#define REPLY_WITH_NUMBER(Name, call)                                   \
  static napi_value Name(napi_env env, napi_callback_info info) {       \
    napi_value a[2]; get_args(env, info, 2, a);                         \
    fuse_req_t req = req_of(env, a[0]);                                 \
    double v = num(env, a[1]);                                          \
    call;                                                               \
    return nullptr;                                                     \
  }
REPLY_WITH_NUMBER(ReplyErr, fuse_reply_err(req, (int)v))
REPLY_WITH_NUMBER(ReplyWrite, fuse_reply_write(req, (size_t)v))
REPLY_WITH_NUMBER(ReplyXattr, fuse_reply_xattr(req, (size_t)v))
REPLY_WITH_NUMBER(ReplyLseek, fuse_reply_lseek(req, (off_t)v))

static napi_value ReplyNone(napi_env env, napi_callback_info info) {
  napi_value a[1]; get_args(env, info, 1, a);
  fuse_reply_none(req_of(env, a[0]));
  return nullptr;
}
// An entry from the arguments (attr, generation, entryTimeout, attrTimeout) at a[1..4].
static void fill_entry(napi_env env, napi_value *a, struct fuse_entry_param *e) {
  memset(e, 0, sizeof *e);
  fill_stat(env, a[1], &e->attr);
  e->ino = e->attr.st_ino;
  e->generation = (uint64_t)num(env, a[2]);
  e->entry_timeout = num(env, a[3]);
  e->attr_timeout = num(env, a[4]);
}
// replyEntry(req, attr, generation, entryTimeout, attrTimeout)
static napi_value ReplyEntry(napi_env env, napi_callback_info info) {
  napi_value a[5]; get_args(env, info, 5, a);
  struct fuse_entry_param e;
  fill_entry(env, a, &e);
  fuse_reply_entry(req_of(env, a[0]), &e);
  return nullptr;
}
// replyCreate(req, attr, generation, entryTimeout, attrTimeout, fh, directIo)
static napi_value ReplyCreate(napi_env env, napi_callback_info info) {
  napi_value a[7]; get_args(env, info, 7, a);
  struct fuse_entry_param e;
  fill_entry(env, a, &e);
  struct fuse_file_info fi;
  memset(&fi, 0, sizeof fi);
  fi.fh = (uint64_t)num(env, a[5]);
  fi.direct_io = num(env, a[6]) != 0;
  fuse_reply_create(req_of(env, a[0]), &e, &fi);
  return nullptr;
}
// replyAttr(req, attr, timeout)
static napi_value ReplyAttr(napi_env env, napi_callback_info info) {
  napi_value a[3]; get_args(env, info, 3, a);
  struct stat st;
  fill_stat(env, a[1], &st);
  fuse_reply_attr(req_of(env, a[0]), &st, num(env, a[2]));
  return nullptr;
}
// replyOpen(req, fh, directIo, keepCache)
static napi_value ReplyOpen(napi_env env, napi_callback_info info) {
  napi_value a[4]; get_args(env, info, 4, a);
  struct fuse_file_info fi;
  memset(&fi, 0, sizeof fi);
  fi.fh = (uint64_t)num(env, a[1]);
  fi.direct_io = num(env, a[2]) != 0;
  fi.keep_cache = num(env, a[3]) != 0;
  fuse_reply_open(req_of(env, a[0]), &fi);
  return nullptr;
}
// replyBuf(req, buffer)
static napi_value ReplyBuf(napi_env env, napi_callback_info info) {
  napi_value a[2]; get_args(env, info, 2, a);
  void *data = nullptr;
  size_t len = 0;
  napi_get_buffer_info(env, a[1], &data, &len);
  fuse_reply_buf(req_of(env, a[0]), (const char *)data, len);
  return nullptr;
}
static napi_value ReplyReadlink(napi_env env, napi_callback_info info) {
  napi_value a[2]; get_args(env, info, 2, a);
  char buf[4097];
  size_t n = 0;
  napi_get_value_string_utf8(env, a[1], buf, sizeof buf, &n);
  fuse_reply_readlink(req_of(env, a[0]), buf);
  return nullptr;
}
// replyLock(req, type, start, len, pid): the conflicting lock (or F_UNLCK) for F_GETLK.
static napi_value ReplyLock(napi_env env, napi_callback_info info) {
  napi_value a[5]; get_args(env, info, 5, a);
  struct flock l;
  memset(&l, 0, sizeof l);
  l.l_type = (short)num(env, a[1]);
  l.l_whence = SEEK_SET;
  l.l_start = (off_t)num(env, a[2]);
  l.l_len = (off_t)num(env, a[3]);
  l.l_pid = (pid_t)num(env, a[4]);
  fuse_reply_lock(req_of(env, a[0]), &l);
  return nullptr;
}
// replyStatfs(req, [bsize, frsize, blocks, bfree, bavail, files, ffree, favail, namemax])
static napi_value ReplyStatfs(napi_env env, napi_callback_info info) {
  napi_value a[2]; get_args(env, info, 2, a);
  double f[9] = {0};
  for (uint32_t i = 0; i < 9; i++) { napi_value v; if (napi_get_element(env, a[1], i, &v) == napi_ok) f[i] = num(env, v); }
  struct statvfs st;
  memset(&st, 0, sizeof st);
  st.f_bsize = (unsigned long)f[0]; st.f_frsize = (unsigned long)f[1]; st.f_blocks = (fsblkcnt_t)f[2];
  st.f_bfree = (fsblkcnt_t)f[3]; st.f_bavail = (fsblkcnt_t)f[4]; st.f_files = (fsfilcnt_t)f[5];
  st.f_ffree = (fsfilcnt_t)f[6]; st.f_favail = (fsfilcnt_t)f[7]; st.f_namemax = (unsigned long)f[8];
  fuse_reply_statfs(req_of(env, a[0]), &st);
  return nullptr;
}
// replyDirents(req, size, entries: [name, ino, mode, nextOffset, attr?, generation?, timeout?][], plus)
static napi_value ReplyDirents(napi_env env, napi_callback_info info) {
  napi_value a[4]; get_args(env, info, 4, a);
  fuse_req_t req = req_of(env, a[0]);
  size_t size = (size_t)num(env, a[1]);
  bool plus = false;
  napi_get_value_bool(env, a[3], &plus);
  uint32_t count = 0;
  napi_get_array_length(env, a[2], &count);
  std::vector<char> buf(size);
  size_t used = 0;
  for (uint32_t i = 0; i < count; i++) {
    napi_value e, v;
    napi_get_element(env, a[2], i, &e);
    char name[1024];
    size_t n = 0;
    napi_get_element(env, e, 0, &v);
    napi_get_value_string_utf8(env, v, name, sizeof name, &n);
    napi_get_element(env, e, 3, &v);
    off_t next = (off_t)num(env, v);
    size_t want;
    if (plus) {
      struct fuse_entry_param ep;
      memset(&ep, 0, sizeof ep);
      napi_get_element(env, e, 4, &v);
      fill_stat(env, v, &ep.attr);
      ep.ino = ep.attr.st_ino;
      napi_get_element(env, e, 5, &v); ep.generation = (uint64_t)num(env, v);
      napi_get_element(env, e, 6, &v); ep.entry_timeout = ep.attr_timeout = num(env, v);
      want = fuse_add_direntry_plus(req, buf.data() + used, size - used, name, &ep, next);
    } else {
      struct stat st;
      memset(&st, 0, sizeof st);
      napi_get_element(env, e, 1, &v); st.st_ino = (ino_t)num(env, v);
      napi_get_element(env, e, 2, &v); st.st_mode = (mode_t)num(env, v);
      want = fuse_add_direntry(req, buf.data() + used, size - used, name, &st, next);
    }
    if (want > size - used) break;
    used += want;
  }
  fuse_reply_buf(req, buf.data(), used);
  napi_value r;
  napi_create_uint32(env, count, &r);
  return r;
}

static napi_value Init(napi_env env, napi_value exports) {
  const napi_property_descriptor d[] = {
    {"mount", nullptr, Mount, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"unmount", nullptr, Unmount, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"notifyInode", nullptr, NotifyInode, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"notifyEntry", nullptr, NotifyEntry, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"replyErr", nullptr, ReplyErr, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"replyNone", nullptr, ReplyNone, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"replyEntry", nullptr, ReplyEntry, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"replyCreate", nullptr, ReplyCreate, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"replyAttr", nullptr, ReplyAttr, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"replyOpen", nullptr, ReplyOpen, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"replyBuf", nullptr, ReplyBuf, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"replyWrite", nullptr, ReplyWrite, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"replyXattr", nullptr, ReplyXattr, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"replyLseek", nullptr, ReplyLseek, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"replyReadlink", nullptr, ReplyReadlink, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"replyStatfs", nullptr, ReplyStatfs, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"replyDirents", nullptr, ReplyDirents, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"replyLock", nullptr, ReplyLock, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
