// A small persistent thread pool: the calling thread plus (threads - 1) workers that spin briefly
// after each parallel region (so that back-to-back kernels skip the wake-up) and then sleep.
#pragma once

#include <cstdint>
#include <type_traits>

namespace nabla {

// Total threads a parallel region uses (caller included), at least 1.
int num_threads();
// Sets the thread count (clamped to [1, 256]); the workers are (re)started lazily.
void set_num_threads(int n);
// The number of logical CPUs this process may run on.
int hardware_threads();

using TaskFn = void (*)(void* ctx, int64_t task, int thread);

// Runs fn(ctx, t, thread) for t in [0, tasks), spread over up to `threads` threads (0: all);
// returns when every task is done. `thread` is in [0, threads) and unique among concurrently
// running tasks (for per-thread scratch). Runs serially when tasks == 1, when one thread is
// configured, or when another parallel region is in flight (a nested call, or a second JS thread).
void parallel_run(int64_t tasks, TaskFn fn, void* ctx, int threads = 0);

template <typename F>
void parallel_for(int64_t tasks, F&& f, int threads = 0) {
  if (tasks <= 0) return;
  using Fn = std::remove_reference_t<F>;
  auto tramp = [](void* c, int64_t t, int th) { (*static_cast<Fn*>(c))(t, th); };
  parallel_run(tasks, tramp, const_cast<void*>(static_cast<const void*>(&f)), threads);
}

// Splits [0, n) into at most `parts` near-equal chunks of at least `grain` elements (aligned to
// `align`) and runs f(begin, end, thread) on each in parallel.
template <typename F>
void parallel_chunks(int64_t n, int64_t grain, F&& f, int64_t align = 1) {
  if (n <= 0) return;
  int64_t parts = num_threads();
  if (grain < 1) grain = 1;
  if (parts > n / grain) parts = n / grain;
  if (parts <= 1) {
    f(int64_t{0}, n, 0);
    return;
  }
  int64_t chunk = (n + parts - 1) / parts;
  chunk = (chunk + align - 1) / align * align;
  const int64_t tasks = (n + chunk - 1) / chunk;
  parallel_for(tasks, [&](int64_t t, int th) {
    const int64_t b = t * chunk;
    const int64_t e = b + chunk < n ? b + chunk : n;
    f(b, e, th);
  });
}

}  // namespace nabla
