package testpeer

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"postern/internal/testenv"
)

// Browser is Debian's chromium, headless, driven over the DevTools
// protocol. Screenshots go to Dir, the test's temp dir, and stay there
// as the test's artifacts.
type Browser struct {
	ctx context.Context
	Dir string
}

// browserTimeout bounds one Run: a page that does not load fails the test
// instead of hanging it.
const browserTimeout = 60 * time.Second

// StartBrowser starts a headless chromium with a profile of its own for
// the test and stops it when the test ends. Without chromium the test is
// skipped (failed under CI=true). Tests run as root, where chromium's
// sandbox cannot start, so it runs without it; it only ever opens
// loopback pages of the server under test.
func StartBrowser(t testing.TB) *Browser {
	t.Helper()
	exe := testenv.LookPath(t, "chromium")
	dir := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 1000),
		chromedp.Flag("no-proxy-server", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium (%s): %v", exe, err)
	}
	return &Browser{ctx: ctx, Dir: dir}
}

// Do carries out steps in the browser's tab, failing the test on the
// first error.
func (b *Browser) Do(t testing.TB, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// BrowserRun runs one action that gives a value (the text of an element,
// the page's address, a screenshot) in b's tab, failing the test on an
// error.
func BrowserRun[T any](t testing.TB, b *Browser, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}

// Screenshot saves the whole page as Dir/NAME.png and logs where (and
// in $POSTERN_ARTIFACTS, when set, as TEST-NAME.png).
func (b *Browser) Screenshot(t testing.TB, name string) string {
	t.Helper()
	png := BrowserRun(t, b, chromedp.FullScreenshot(100))
	path := filepath.Join(b.Dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of %s: %s", name, path)
	// The temp dir goes when the test ends; POSTERN_ARTIFACTS keeps a copy.
	if dir := os.Getenv("POSTERN_ARTIFACTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err == nil {
			os.WriteFile(filepath.Join(dir, t.Name()+"-"+name+".png"), png, 0o644)
		}
	}
	return path
}
