// The thread pool behind parallel_run (see pool.h).
#include "pool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <sched.h>

#include <fstream>
#endif

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <immintrin.h>
#define NABLA_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define NABLA_PAUSE() __asm__ __volatile__("yield")
#else
#define NABLA_PAUSE() ((void)0)
#endif

namespace nabla {

namespace {

constexpr int kMaxThreads = 256;
// How long a worker spins for the next parallel region before it sleeps.
constexpr auto kSpin = std::chrono::microseconds(100);

// A parallel region: the caller publishes a new generation; workers that wake up in time "join" it
// (a CAS on `state`) and take tasks from `next`; when the caller has run out of tasks it "closes"
// the region and waits only for the workers that joined. A worker that is asleep or descheduled
// (a busy machine) therefore never delays a region it did not join.
struct Pool {
  static constexpr uint64_t kClosed = uint64_t{1} << 31;
  static constexpr uint64_t kJoinedMask = kClosed - 1;

  std::mutex m;
  std::condition_variable cv;
  // generation << 32 | closed bit | number of workers that joined.
  std::atomic<uint64_t> state{0};
  std::atomic<int> participants{0};  // threads allowed in the region, the caller included
  std::atomic<int64_t> next{0};
  std::atomic<uint64_t> done{0};
  std::atomic<bool> stop{false};
  std::atomic_flag busy = ATOMIC_FLAG_INIT;
  int sleepers = 0;  // guarded by m
  int64_t tasks = 0;
  TaskFn fn = nullptr;
  void* ctx = nullptr;
  std::vector<std::thread> workers;  // touched only while holding `busy`

  static uint64_t gen_of(uint64_t s) { return s >> 32; }

  // `seen`: the generation current when the worker was created (before the region it was
  // created for is published), so that it cannot miss that region.
  void work(int index, uint64_t seen) {
    for (;;) {
      uint64_t s = state.load(std::memory_order_acquire);
      if (gen_of(s) == seen) {
        auto t0 = std::chrono::steady_clock::now();
        for (int i = 0;; i++) {
          NABLA_PAUSE();
          s = state.load(std::memory_order_acquire);
          if (gen_of(s) != seen || stop.load(std::memory_order_relaxed)) break;
          if ((i & 255) == 255 && std::chrono::steady_clock::now() - t0 > kSpin) break;
        }
      }
      if (gen_of(s) == seen) {
        std::unique_lock<std::mutex> lk(m);
        sleepers++;
        cv.wait(lk, [&] {
          return gen_of(state.load(std::memory_order_acquire)) != seen ||
                 stop.load(std::memory_order_relaxed);
        });
        sleepers--;
        s = state.load(std::memory_order_acquire);
      }
      if (stop.load(std::memory_order_relaxed)) return;
      const uint64_t g = gen_of(s);
      seen = g;
      if (index >= participants.load(std::memory_order_relaxed)) continue;
      bool joined = false;
      while (gen_of(s) == g && (s & kClosed) == 0) {
        if (state.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) {
          joined = true;
          break;
        }
      }
      if (!joined) continue;  // the region ended before we got here
      for (;;) {
        const int64_t t = next.fetch_add(1, std::memory_order_relaxed);
        if (t >= tasks) break;
        fn(ctx, t, index);
      }
      done.fetch_add(1, std::memory_order_release);
    }
  }
};

// Deliberately leaked: worker threads are never joined at exit (they sleep on the condition
// variable), and no static destructor may run while they exist.
Pool* pool() {
  static Pool* p = new Pool();
  return p;
}

int read_env_threads() {
  const char* s = std::getenv("NABLA_NUM_THREADS");
  if (s == nullptr || *s == 0) return 0;
  const int n = std::atoi(s);
  return n > 0 ? n : 0;
}

std::atomic<int> g_threads{0};  // 0: not decided yet

int physical_cores() {
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 0;
  std::set<std::pair<std::string, std::string>> cores;
  for (int c = 0; c < CPU_SETSIZE; c++) {
    if (!CPU_ISSET(c, &set)) continue;
    const std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(c) + "/topology/";
    std::ifstream core(base + "core_id");
    std::ifstream pkg(base + "physical_package_id");
    std::string cid, pid;
    if (!(core >> cid) || !(pkg >> pid)) return 0;
    cores.insert({pid, cid});
  }
  return static_cast<int>(cores.size());
#else
  return 0;
#endif
}

}  // namespace

int hardware_threads() {
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
#endif
  const unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? static_cast<int>(n) : 1;
}

int num_threads() {
  int n = g_threads.load(std::memory_order_relaxed);
  if (n == 0) {
    // Default: NABLA_NUM_THREADS, else one thread per physical core (hyper-threads add nothing
    // to compute-bound kernels), else the logical CPU count.
    n = read_env_threads();
    if (n == 0) n = physical_cores();
    if (n <= 0 || n > hardware_threads()) n = hardware_threads();
    if (n > kMaxThreads) n = kMaxThreads;
    g_threads.store(n, std::memory_order_relaxed);
  }
  return n;
}

void set_num_threads(int n) {
  if (n < 1) n = 1;
  if (n > kMaxThreads) n = kMaxThreads;
  g_threads.store(n, std::memory_order_relaxed);
}

void parallel_run(int64_t tasks, TaskFn fn, void* ctx, int threads) {
  if (tasks <= 0) return;
  int want = threads > 0 ? threads : num_threads();
  if (want > num_threads()) want = num_threads();
  if (static_cast<int64_t>(want) > tasks) want = static_cast<int>(tasks);
  Pool* p = pool();
  if (want <= 1 || p->busy.test_and_set(std::memory_order_acquire)) {
    for (int64_t t = 0; t < tasks; t++) fn(ctx, t, 0);
    return;
  }
  // Start the workers this region needs (they are kept for later regions).
  while (static_cast<int>(p->workers.size()) < want - 1) {
    const int index = static_cast<int>(p->workers.size()) + 1;
    const uint64_t seen = Pool::gen_of(p->state.load(std::memory_order_relaxed));
    p->workers.emplace_back([p, index, seen] { p->work(index, seen); });
  }
  p->tasks = tasks;
  p->fn = fn;
  p->ctx = ctx;
  p->next.store(0, std::memory_order_relaxed);
  p->done.store(0, std::memory_order_relaxed);
  p->participants.store(want, std::memory_order_relaxed);
  bool wake;
  {
    std::lock_guard<std::mutex> lk(p->m);
    const uint64_t g = Pool::gen_of(p->state.load(std::memory_order_relaxed)) + 1;
    p->state.store((g & 0xffffffffu) << 32, std::memory_order_release);
    wake = p->sleepers > 0;
  }
  if (wake) p->cv.notify_all();
  for (;;) {
    const int64_t t = p->next.fetch_add(1, std::memory_order_relaxed);
    if (t >= tasks) break;
    fn(ctx, t, 0);
  }
  // Close the region, then wait for the workers that joined it: spin briefly, then yield the core
  // (a joined worker may be waiting for one when the machine is oversubscribed).
  const uint64_t joined = p->state.fetch_or(Pool::kClosed, std::memory_order_acq_rel) & Pool::kJoinedMask;
  for (int i = 0; p->done.load(std::memory_order_acquire) < joined; i++) {
    if (i < (1 << 12)) {
      NABLA_PAUSE();
    } else {
      std::this_thread::yield();
    }
  }
  p->busy.clear(std::memory_order_release);
}

}  // namespace nabla
