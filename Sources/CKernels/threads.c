// The engine's worker threads (see include/CKernels.h, tb_parallel_for). Why a pool of our own: on the
// 2-core virtual machines the engine is measured on, DispatchQueue.concurrentPerform's second thread
// started its first iteration about 55 us after the call (a parked worker woken through the kernel;
// docs/performance.md, "Eighth step"), and a network makes some hundred parallel calls a pass. These
// workers spin for a while after each call instead, so the next call finds them awake.
//
// One job at a time. Its state is one 64-bit word: the job's generation (high 32 bits), a closed bit and
// the number of workers inside it. A worker joins by raising the count, only while the job it saw
// published is open; the caller, its own share done, closes the job and waits for the count to fall to
// zero. So a worker reads the job's fields only while the caller waits for it, and a worker that wakes
// late finds the job closed and stays out: the caller never waits for a sleeping thread.
#include "CKernels.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TB_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define TB_PAUSE() __asm__ __volatile__("yield")
#else
#define TB_PAUSE() ((void)0)
#endif

#define MAX_WORKERS 63
#define CLOSED (1ull << 31)
#define ACTIVE_MASK (CLOSED - 1)

static pthread_mutex_t call_lock = PTHREAD_MUTEX_INITIALIZER;   // one caller at a time
static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
// Each worker sleeps on its own condition, so that a call wakes only the workers it may use.
static struct {
    pthread_cond_t wake;
    int sleeping;   // under sleep_lock
} slot[MAX_WORKERS];
static _Atomic uint64_t state = CLOSED;   // generation 0, closed
static _Atomic int sleepers;
static int workers;   // started so far (under call_lock)
static long spin_ns = 2000000;

// The job, written by the caller while it is closed with no worker inside. Its items are cut into one run of
// neighbours per participant (the caller is participant 0, worker i participant i + 1): each takes its own
// run's items first, in order, then helps the others with theirs. The engine numbers a layer's work items in
// the order of the output rows they write, so each thread keeps to the same part of the map from layer to
// layer, and reads what it wrote itself from its own cache, not another core's; the helping evens out the
// end. Which thread runs an item never changes what the item computes.
typedef struct {
    _Alignas(64) _Atomic long next;   // a cache line each: the threads claim from different runs at once
    long end;
} item_run;
static struct {
    tb_parallel_body body;
    void *ctx;
    int parts;
    item_run run[MAX_WORKERS + 1];
} job;
// Workers that may join the next job (index below it), written before it is published; the others go
// back to sleep at once, and are not woken, instead of spinning beside the ones that work (after a wider
// call, such as the peak benchmark's).
static _Atomic int limit;

static long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000000000L + t.tv_nsec;
}

// Participant p's share: its own run of items, then whatever is left of the others' (theirs from the next on).
static void run_items(int p) {
    for (int k = 0; k < job.parts; k++) {
        item_run *r = &job.run[(p + k) % job.parts];
        long i;
        while ((i = atomic_fetch_add_explicit(&r->next, 1, memory_order_relaxed)) < r->end) job.body(job.ctx, i);
    }
}

// A worker's start: its index, and the generation before the call that started it (so that it joins that
// call's job, published while the thread was being created).
typedef struct {
    int index;
    uint32_t seen;
} worker_start;

static void *worker_main(void *arg) {
    worker_start start = *(worker_start *)arg;
    free(arg);
    int index = start.index, idle = 0;
    uint32_t seen = start.seen;
    for (;;) {
        // Wait for the next generation: spin for spin_ns (checking the clock every 256 pauses), then sleep;
        // a worker left out of the last job sleeps at once.
        long t0 = now_ns();
        for (int k = 1;; k++) {
            if ((uint32_t)(atomic_load_explicit(&state, memory_order_acquire) >> 32) != seen) break;
            TB_PAUSE();
            if (idle || ((k & 255) == 0 && now_ns() - t0 > spin_ns)) {
                // Asleep until a call that may use this worker wakes it (an idle worker sleeps through the
                // calls that may not, however many generations pass).
                pthread_mutex_lock(&sleep_lock);
                slot[index].sleeping = 1;
                atomic_fetch_add(&sleepers, 1);
                while ((uint32_t)(atomic_load(&state) >> 32) == seen || (idle && index >= atomic_load(&limit)))
                    pthread_cond_wait(&slot[index].wake, &sleep_lock);
                atomic_fetch_sub(&sleepers, 1);
                slot[index].sleeping = 0;
                pthread_mutex_unlock(&sleep_lock);
                break;
            }
        }
        // Join the job of that generation if it is still open and this worker is within its limit.
        uint64_t s = atomic_load(&state);
        seen = (uint32_t)(s >> 32);
        idle = index >= atomic_load_explicit(&limit, memory_order_relaxed);
        if (idle) continue;
        while (!(s & CLOSED) && !atomic_compare_exchange_weak(&state, &s, s + 1)) {
            if ((uint32_t)(s >> 32) != seen) break;   // a newer job: join that one on the next turn
        }
        if ((s & CLOSED) || (uint32_t)(s >> 32) != seen) continue;
        run_items(index + 1);
        atomic_fetch_sub_explicit(&state, 1, memory_order_release);
    }
    return NULL;
}

int tb_parallel_for(long n, int threads, tb_parallel_body body, void *ctx) {
    if (n <= 0) return 1;
    if (threads <= 1 || n == 1) {
        for (long i = 0; i < n; i++) body(ctx, i);
        return 1;
    }
    if (pthread_mutex_trylock(&call_lock) != 0) return 0;   // another caller has the workers
    int want = threads - 1 < MAX_WORKERS ? threads - 1 : MAX_WORKERS;
    if (workers == 0) {
        const char *e = getenv("TUMORBOARD_SPIN_US");
        if (e && *e) {   // microseconds, 0 to 1 s (a bad value reads as 0)
            long us = atol(e);
            spin_ns = (us < 0 ? 0 : us > 1000000 ? 1000000 : us) * 1000L;
        }
    }
    uint64_t s = atomic_load(&state);
    while (workers < want) {
        worker_start *start = malloc(sizeof *start);
        if (!start) break;
        start->index = workers;
        start->seen = (uint32_t)(s >> 32);
        pthread_cond_init(&slot[workers].wake, NULL);
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&t, &attr, worker_main, start);
        pthread_attr_destroy(&attr);
        if (failed) {
            free(start);
            break;
        }
        workers++;
    }
    if (workers == 0) {   // no thread could be started: the caller does it all
        pthread_mutex_unlock(&call_lock);
        for (long i = 0; i < n; i++) body(ctx, i);
        return 1;
    }
    job.body = body; job.ctx = ctx;
    int parts = (want < workers ? want : workers) + 1;
    job.parts = parts;
    for (int p = 0; p < parts; p++) {
        atomic_store_explicit(&job.run[p].next, n * p / parts, memory_order_relaxed);
        job.run[p].end = n * (p + 1) / parts;
    }
    atomic_store_explicit(&limit, want, memory_order_relaxed);
    atomic_store(&state, ((s >> 32) + 1) << 32);   // the next generation, open, nobody inside
    if (atomic_load(&sleepers) > 0) {
        pthread_mutex_lock(&sleep_lock);
        for (int i = 0; i < want && i < workers; i++)
            if (slot[i].sleeping) pthread_cond_signal(&slot[i].wake);
        pthread_mutex_unlock(&sleep_lock);
    }
    run_items(0);
    atomic_fetch_or(&state, CLOSED);
    while ((atomic_load_explicit(&state, memory_order_acquire) & ACTIVE_MASK) != 0) TB_PAUSE();
    pthread_mutex_unlock(&call_lock);
    return 1;
}
