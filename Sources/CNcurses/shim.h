// SwiftPM drops pkg-config's -D flags, so the wide-character API must be asked for here,
// before <ncurses.h>, or cchar_t / setcchar / get_wch vanish.
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1
#endif
#include <locale.h>
#include <ncursesw/ncurses.h>

// Swift 6 rejects mutable C globals (stdscr, LINES, COLS) and cannot import function-like
// macros (A_BOLD, getmaxyx): small getters instead.
static inline WINDOW *tb_stdscr(void) { return stdscr; }
static inline int tb_lines(void) { return LINES; }
static inline int tb_cols(void) { return COLS; }
static inline attr_t tb_a_bold(void) { return A_BOLD; }
static inline attr_t tb_a_reverse(void) { return A_REVERSE; }
static inline attr_t tb_a_underline(void) { return A_UNDERLINE; }
static inline attr_t tb_a_dim(void) { return A_DIM; }
static inline int tb_key_resize(void) { return KEY_RESIZE; }
static inline int tb_mvaddwstr(int y, int x, const wchar_t *s) { return mvaddwstr(y, x, s); }

// Workstation additions (issue 7).
#include <sys/ioctl.h>
#include <wchar.h>
// ioctl is variadic (not importable): the window size in cells and, where the terminal fills
// them in, pixels. Returns 0 on success.
static inline int tb_winsize(int fd, int *rows, int *cols, int *xpixels, int *ypixels) {
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) != 0) return -1;
    *rows = ws.ws_row; *cols = ws.ws_col; *xpixels = ws.ws_xpixel; *ypixels = ws.ws_ypixel;
    return 0;
}
static inline int tb_colors(void) { return COLORS; }
static inline int tb_color_pairs(void) { return COLOR_PAIRS; }
static inline int tb_err(void) { return ERR; }
static inline int tb_key_code_yes(void) { return KEY_CODE_YES; }
// One cell with an extended colour pair (ncurses 6: the pair travels through setcchar's opts).
static inline int tb_put_cell(int y, int x, wchar_t ch, attr_t attrs, int pair) {
    cchar_t cc;
    wchar_t text[2] = { ch, 0 };
    if (setcchar(&cc, text, attrs, 0, &pair) != OK) return ERR;
    return mvadd_wch(y, x, &cc);
}
// A pseudo-terminal pair (for tests of the terminal probe); the declarations are hidden from
// Swift's Glibc module without _XOPEN_SOURCE. Returns 0 on success.
extern int posix_openpt(int flags);
extern int grantpt(int fd);
extern int unlockpt(int fd);
extern char *ptsname(int fd);
#include <fcntl.h>
#include <unistd.h>
static inline int tb_open_pty(int *master, int *slave) {
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0) return -1;
    if (grantpt(m) != 0 || unlockpt(m) != 0) { close(m); return -1; }
    char *name = ptsname(m);
    int s = name ? open(name, O_RDWR | O_NOCTTY) : -1;
    if (s < 0) { close(m); return -1; }
    *master = m; *slave = s;
    return 0;
}

// Crash restore: a Swift trap (SIGILL/SIGTRAP), a segfault or an abort must not leave the
// user's terminal raw and on the alternate screen. Only async-signal-safe calls (write,
// tcsetattr, sigaction, raise); then the previous handler (Swift's backtracer) runs.
#include <signal.h>
#include <string.h>
#include <termios.h>
// State lives in function-local statics: Swift's importer does not emit a header's file-scope
// static variables.
struct tb_crash_state {
    struct termios saved;
    int saved_valid;
    int fd;
    struct sigaction previous[32];
};
static inline struct tb_crash_state *tb_crash(void) {
    static struct tb_crash_state state;
    return &state;
}
static void tb_crash_handler(int sig) {
    static const char seq[] = "\033[?2026l\033[0m\033[?1049l\033[?25h\r\n";
    struct tb_crash_state *st = tb_crash();
    ssize_t ignored = write(st->fd, seq, sizeof seq - 1);
    (void)ignored;
    if (st->saved_valid) tcsetattr(0, TCSANOW, &st->saved);
    sigaction(sig, &st->previous[sig], NULL);
    raise(sig);
}
static inline void tb_install_crash_restore(int output_fd) {
    struct tb_crash_state *st = tb_crash();
    st->fd = output_fd;
    if (tcgetattr(0, &st->saved) == 0) st->saved_valid = 1;
    int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP };
    for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = tb_crash_handler;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, &st->previous[sigs[i]]);
    }
}
