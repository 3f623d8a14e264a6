/* Row-block sums for ABFT's checks (gridfree.flight.compute.abft_check): for each row of a
 * row-major matrix and each block of w of its columns, the sum of its elements and the sum of
 * their squares, in one pass.
 *
 * Why C: the first look of the checks needs both sums of every block of the product, and numpy
 * makes two passes for them (a product with the block indicator, a dot product per block). At
 * n = 1024 the product no longer fits a core's L2 and each pass is bound by memory: measured one
 * pass here at 190 us against numpy's two at 340 us, where ABFT's whole budget is 3 % of a
 * 21 ms GEMM (issue 18).
 *
 * Accuracy: 32 (float) or 16 (double) accumulators in the element's type, each summing every
 * 32nd or 16th element of a block, added pairwise into 8 or 4 and those in double at the block's
 * end. That is no worse than a sequential sum in the element's type, which is what the checks'
 * rounding model assumes; the lanes are what vectorize it without reassociating a sum. (Adding
 * every lane in double instead cost more than the pass itself at w = 256.) */
#include "gridfree.h"

#include <string.h>

/* Four vectors of 32 bytes per sum (GCC/Clang vector extensions: one AVX register each, or two
 * SSE ones where AVX is absent), so that eight chains of additions hide their latency. Loads go
 * through memcpy, as rows need not be aligned. */
#define BLOCK_SUMS(NAME, T, ATTR)                                                                 \
    static ATTR void NAME(const T *x, size_t rows, size_t cols, size_t ld, size_t w, double *sum, \
                          double *sumsq)                                                          \
    {                                                                                             \
        typedef T vec __attribute__((vector_size(32)));                                           \
        enum { L = sizeof(vec) / sizeof(T) };                                                     \
        size_t nb = (cols + w - 1) / w;                                                           \
        for (size_t i = 0; i < rows; i++) {                                                       \
            const T *row = x + i * ld;                                                            \
            for (size_t b = 0; b < nb; b++) {                                                     \
                size_t j = b * w, end = j + w < cols ? j + w : cols;                              \
                vec s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};                                       \
                vec q0 = {0}, q1 = {0}, q2 = {0}, q3 = {0};                                       \
                for (; j + 4 * L <= end; j += 4 * L) {                                            \
                    vec u0, u1, u2, u3;                                                           \
                    memcpy(&u0, row + j, sizeof u0);                                              \
                    memcpy(&u1, row + j + L, sizeof u1);                                          \
                    memcpy(&u2, row + j + 2 * L, sizeof u2);                                      \
                    memcpy(&u3, row + j + 3 * L, sizeof u3);                                      \
                    s0 += u0;                                                                     \
                    s1 += u1;                                                                     \
                    s2 += u2;                                                                     \
                    s3 += u3;                                                                     \
                    q0 += u0 * u0;                                                                \
                    q1 += u1 * u1;                                                                \
                    q2 += u2 * u2;                                                                \
                    q3 += u3 * u3;                                                                \
                }                                                                                 \
                double ts = 0, tq = 0;                                                            \
                for (; j < end; j++) {                                                            \
                    ts += row[j];                                                                 \
                    tq += (double)row[j] * row[j];                                                \
                }                                                                                 \
                s0 = (s0 + s1) + (s2 + s3);                                                       \
                q0 = (q0 + q1) + (q2 + q3);                                                       \
                for (size_t l = 0; l < L; l++) {                                                  \
                    ts += s0[l];                                                                  \
                    tq += q0[l];                                                                  \
                }                                                                                 \
                sum[i * nb + b] = ts;                                                             \
                sumsq[i * nb + b] = tq;                                                           \
            }                                                                                     \
        }                                                                                         \
    }

BLOCK_SUMS(sums_f32_base, float, )
BLOCK_SUMS(sums_f64_base, double, )

#if defined(__x86_64__) && defined(__GNUC__)
#define AVX2_TARGET __attribute__((target("avx2")))
BLOCK_SUMS(sums_f32_avx2, float, AVX2_TARGET)
BLOCK_SUMS(sums_f64_avx2, double, AVX2_TARGET)
int gf_block_sums_have_avx2(void) { return __builtin_cpu_supports("avx2"); }
#else
#define sums_f32_avx2 sums_f32_base
#define sums_f64_avx2 sums_f64_base
int gf_block_sums_have_avx2(void) { return 0; }
#endif

static int valid(const void *x, size_t rows, size_t cols, size_t ld, size_t w, const double *sum,
                 const double *sumsq)
{
    return w > 0 && ld >= cols && (!rows || !cols || (x && sum && sumsq));
}

int gf_block_sums_f32(const float *x, size_t rows, size_t cols, size_t ld, size_t w, double *sum,
                      double *sumsq)
{
    if (!valid(x, rows, cols, ld, w, sum, sumsq))
        return GF_EINVAL;
    (gf_block_sums_have_avx2() ? sums_f32_avx2 : sums_f32_base)(x, rows, cols, ld, w, sum, sumsq);
    return GF_OK;
}

int gf_block_sums_f64(const double *x, size_t rows, size_t cols, size_t ld, size_t w, double *sum,
                      double *sumsq)
{
    if (!valid(x, rows, cols, ld, w, sum, sumsq))
        return GF_EINVAL;
    (gf_block_sums_have_avx2() ? sums_f64_avx2 : sums_f64_base)(x, rows, cols, ld, w, sum, sumsq);
    return GF_OK;
}
