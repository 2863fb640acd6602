#include <sixel.h>
// SIXEL_FAILED is a function-like macro Swift cannot import.
static inline int tb_sixel_failed(SIXELSTATUS status) { return SIXEL_FAILED(status) ? 1 : 0; }
