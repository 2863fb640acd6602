#include <sixel.h>
// SIXEL_FAILED is a function-like macro Swift cannot import.
static inline int tb_sixel_failed(SIXELSTATUS status) { return SIXEL_FAILED(status) ? 1 : 0; }

// Workstation additions (issue 7): composite macros as plain values for Swift.
static inline int tb_sixel_pixelformat_rgb888(void) { return SIXEL_PIXELFORMAT_RGB888; }
