// Package browsertest runs a real browser for the tests of the exchange's pages:
// Debian's Chromium (DATAPORT_TEST_CHROMIUM, or chromium on the PATH; found through
// testenv, so a workstation without one skips and CI fails), headless, with a fresh
// profile, through chromedp; and it records what the pages did — every request, the
// loads that failed, uncaught exceptions, console errors, what the
// Content-Security-Policy refused — for the tests' assertions and for their failure
// messages.
package browsertest

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/dataport/dataport/internal/testenv"
)

// ChromiumEnv names the Chromium (or Chrome) binary the browser tests run.
const ChromiumEnv = "DATAPORT_TEST_CHROMIUM"

// Start launches the browser for t with one deadline for everything, the browser's
// start included, so that a browser that hangs fails the test instead of stalling
// the run; extra options come after the defaults (a window size, a language). It
// returns the tab to drive and the recorder of what its pages do. The browser is
// stopped when the test ends.
func Start(t *testing.T, timeout time.Duration, extra ...chromedp.ExecAllocatorOption) (context.Context, *Activity) {
	t.Helper()
	chromium := testenv.Tool(t, ChromiumEnv, "chromium")
	profile := t.TempDir() // made first, so that it is removed last: after the browser exits
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	t.Cleanup(cancel)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		// The flags the tests rely on; several are chromedp's defaults too, repeated
		// so that a later chromedp's defaults do not change them.
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root, where Chromium refuses its sandbox
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true), // /dev/shm is small in containers
		chromedp.NoFirstRun,
		// The browser itself stays quiet, so that the only traffic is the pages' and
		// a machine without a network does not wait on timeouts.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		// A fresh profile: no cache or state of another run can make a page look loaded.
		chromedp.UserDataDir(profile),
	)
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	seen := &Activity{}
	tab, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(seen.Record))
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("start %s: %v", chromium, err)
	}
	return tab, seen
}

// Activity records what the pages of a tab did.
type Activity struct {
	mu         sync.Mutex
	requests   []string
	urls       map[network.RequestID]string
	failed     []string
	console    []string
	exceptions []string
	errs       []string // console.error calls and error-level log entries (not security)
	security   []string // Content-Security-Policy refusals and other security log entries
}

// Record is the tab's event listener.
func (a *Activity) Record(ev any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if ev.Request == nil {
			return
		}
		a.requests = append(a.requests, ev.Request.URL)
		if a.urls == nil {
			a.urls = map[network.RequestID]string{}
		}
		a.urls[ev.RequestID] = ev.Request.URL
	case *network.EventLoadingFailed:
		reason := ev.ErrorText
		if ev.BlockedReason != "" {
			reason += " (blocked: " + string(ev.BlockedReason) + ")"
		}
		a.failed = append(a.failed, a.urls[ev.RequestID]+": "+reason)
	case *runtime.EventExceptionThrown:
		if d := ev.ExceptionDetails; d != nil {
			msg := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg += " " + d.Exception.Description
			}
			a.exceptions = append(a.exceptions, "uncaught: "+msg)
			a.console = append(a.console, "uncaught: "+msg)
		}
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, arg := range ev.Args {
			if arg.Description != "" {
				parts = append(parts, arg.Description)
			} else {
				parts = append(parts, string(arg.Value))
			}
		}
		line := "console." + string(ev.Type) + ": " + strings.Join(parts, " ")
		a.console = append(a.console, line)
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			a.errs = append(a.errs, line)
		}
	case *log.EventEntryAdded:
		if e := ev.Entry; e != nil {
			line := fmt.Sprintf("%s %s: %s %s", e.Level, e.Source, e.Text, e.URL)
			a.console = append(a.console, line)
			switch {
			case e.Source == log.EntrySourceSecurity:
				a.security = append(a.security, e.Text)
			case e.Level == log.EntryLevelError && e.Source != log.EntrySourceNetwork:
				// A failed load is a network entry: pages under test may answer 404
				// or 422 on purpose, and EventLoadingFailed records real failures.
				a.errs = append(a.errs, line)
			}
		}
	}
}

func (a *Activity) copyOf(s []string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), s...)
}

// Requests are the URLs every page requested, in order.
func (a *Activity) Requests() []string { return a.copyOf(a.requests) }

// Security are the security log entries: what the Content-Security-Policy refused.
func (a *Activity) Security() []string { return a.copyOf(a.security) }

// Exceptions are the pages' uncaught exceptions.
func (a *Activity) Exceptions() []string { return a.copyOf(a.exceptions) }

// Errors are the pages' console.error calls and error log entries other than
// security and network ones.
func (a *Activity) Errors() []string { return a.copyOf(a.errs) }

// Outside lists the requests to anywhere but base's scheme and host (data: and
// about: URLs are the page's own), which the exchange's pages must never make.
func (a *Activity) Outside(base *url.URL) []string {
	var out []string
	for _, r := range a.Requests() {
		if strings.HasPrefix(r, "data:") || strings.HasPrefix(r, "about:") {
			continue
		}
		u, err := url.Parse(r)
		if err != nil || u.Scheme != base.Scheme || u.Host != base.Host {
			out = append(out, r)
		}
	}
	return out
}

// Report is everything recorded, for a failure message.
func (a *Activity) Report() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var b strings.Builder
	for _, s := range []struct {
		name  string
		lines []string
	}{{"requests", a.requests}, {"failed loads", a.failed}, {"console", a.console}} {
		fmt.Fprintf(&b, "%s (%d):\n", s.name, len(s.lines))
		for _, l := range s.lines {
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	return b.String()
}
