package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/dataport/dataport/internal/testenv"
	"github.com/dataport/dataport/store"
)

// chromiumEnv names the Chromium (or Chrome) binary that the browser tests run.
const chromiumEnv = "DATAPORT_TEST_CHROMIUM"

// TestDocsRenderInBrowser opens /docs in a real headless Chromium and checks
// that Swagger UI renders the operations of /openapi.json, and that the page
// asks no host other than the dataport server for anything. The other docs
// tests read the HTML and the assets as text; only a browser shows that the
// vendored bundle actually runs, fetches the spec and draws it under the
// page's Content-Security-Policy, and that nothing in the bundle reaches for a
// CDN, a font service or the public validator. Exchanges can run dataport
// with no internet access, so a page that needs one is a broken page.
func TestDocsRenderInBrowser(t *testing.T) {
	chromium := chromiumForTest(t)
	// Made first so that it is removed last, after the browser has exited.
	profile := t.TempDir()

	x := newExchange(t, store.SQLite)
	server, err := url.Parse(x.srv.URL)
	if err != nil {
		t.Fatal(err)
	}

	// One deadline for everything, browser start included, so that a browser
	// that hangs fails the test instead of stalling the whole run.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		// The flags below are the ones this test relies on. Several are in the
		// defaults too; they are repeated so that the test does not depend on
		// what a later chromedp version chooses as default.
		chromedp.Headless,
		// Test runners and containers often run as root, where Chromium
		// refuses to start with its sandbox.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		// /dev/shm is small in containers, and Chromium crashes when it fills.
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.NoFirstRun,
		// The browser itself must stay quiet, so that the only traffic is the
		// page's and a machine with no network does not wait on timeouts.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		// A fresh profile, so that no cache or state from another run can make
		// the page look as if it loaded.
		chromedp.UserDataDir(profile),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc() // also waits for the browser process to exit

	// The listener is attached before the first command of the tab, so it
	// sees every request of the page, the navigation to /docs included.
	var seen pageActivity
	tabCtx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(seen.record))
	defer cancelTab()

	if err := chromedp.Do(tabCtx); err != nil {
		t.Fatalf("start %s=%s: %v", chromiumEnv, chromium, err)
	}
	resp, err := chromedp.Run(tabCtx, chromedp.NavigateResponse(x.srv.URL+"/docs#/registry"))
	if err != nil {
		t.Fatalf("open /docs: %v\n%s", err, seen.report())
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("/docs: status %d\n%s", resp.Status, seen.report())
	}

	// Swagger UI fetches the spec and renders the operations after the load
	// event, so wait for an operation to appear. The wait has its own, shorter
	// deadline, which leaves time to read the page and say what went wrong.
	const operation = ".swagger-ui .opblock .opblock-summary-path"
	waitCtx, cancelWait := context.WithTimeout(tabCtx, 20*time.Second)
	err = chromedp.Do(waitCtx, chromedp.WaitVisible(chromedp.CSS(operation)))
	cancelWait()
	if err != nil {
		t.Fatalf("Swagger UI rendered no operation (%s): %v\npage text:\n%s\n%s",
			operation, err, clip(pageText(tabCtx)), seen.report())
	}

	title, err := chromedp.Run(tabCtx, chromedp.Text(chromedp.CSS(".swagger-ui .info .title")))
	if err != nil {
		t.Fatalf("read the API title: %v\n%s", err, seen.report())
	}
	if !strings.Contains(title, "dataport") {
		t.Errorf("API title %q does not name dataport", title)
	}
	// Tags start folded; the link opened the registry's. Every tag of the
	// document is drawn, and the registry's operations are listed.
	res, err := http.Get(x.srv.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct{ Tags []string }
	}
	err = json.NewDecoder(res.Body).Decode(&doc)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/api/v1/participants", "/api/v1/me"}
	tags := map[string]bool{}
	for _, ops := range doc.Paths {
		for _, op := range ops {
			for _, tag := range op.Tags {
				tags[tag] = true
			}
		}
	}
	if len(tags) < 10 {
		t.Fatalf("the document has only the tags %v", tags)
	}
	var missing []string
	text := pageText(tabCtx)
	for _, tag := range sortedKeys(tags) {
		if !strings.Contains(text, "\n"+tag+"\n") {
			missing = append(missing, "tag "+tag)
		}
	}
	for _, path := range want {
		if !strings.Contains(text, path) {
			missing = append(missing, path)
		}
	}
	if len(missing) > 0 {
		t.Errorf("the rendered docs do not show %s; page text:\n%s", strings.Join(missing, ", "), clip(text))
	}

	// Nothing may leave the dataport server. data: URLs are inline content
	// (Swagger UI's icons) and make no request on the wire.
	requests := seen.requestURLs()
	spec := false
	for _, r := range requests {
		if strings.HasPrefix(r, "data:") {
			continue
		}
		u, err := url.Parse(r)
		if err != nil || u.Host != server.Host {
			t.Errorf("the docs page requested %s, which is not the dataport server %s", r, server.Host)
			continue
		}
		if u.Path == "/openapi.json" {
			spec = true
		}
	}
	if !spec {
		t.Errorf("the docs page never fetched /openapi.json from the server")
	}
	// The page's Content-Security-Policy stops some attempts, such as fetch to
	// another origin, before Chromium emits any request event, so a violation
	// counts as an attempt too. Under default-src 'self' a violation is also a
	// sign that the page needs something it is not allowed to load.
	for _, v := range seen.violations() {
		t.Errorf("Content-Security-Policy violation: %s", v)
	}
	if t.Failed() {
		t.Log(seen.report())
	}
}

// chromiumForTest returns the browser: DATAPORT_TEST_CHROMIUM, or chromium on the
// PATH. Without one the test skips on a workstation, where a browser is optional,
// but fails in CI, where a skip would hide that the docs page is no longer tested.
func chromiumForTest(t *testing.T) string {
	t.Helper()
	return testenv.Tool(t, chromiumEnv, "chromium")
}

// pageText returns the visible text of the page, or why it could not be read.
// Swagger UI puts a zero-width space before each slash of a path so that long
// paths can wrap; it is removed so that paths compare as written.
func pageText(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		return fmt.Sprintf("(page text unavailable: %v)", err)
	}
	return strings.ReplaceAll(text, "\u200b", "")
}

// clip shortens page text for a failure message: it only has to show what the
// page looked like, and a full rendering of the spec runs to hundreds of lines.
func clip(text string) string {
	limit := 4000
	if len(text) <= limit {
		return text
	}
	for !utf8.RuneStart(text[limit]) { // do not split a character
		limit--
	}
	return text[:limit] + "\n…(cut)"
}

// pageActivity records what the page did, for the assertions and for the
// message of a failure. record runs in the loop that reads the browser's
// messages, so it only appends and never sends a command.
type pageActivity struct {
	mu       sync.Mutex
	requests []string
	urls     map[network.RequestID]string
	failed   []string
	console  []string
	csp      []string // log entries from the security source
}

func (a *pageActivity) record(ev any) {
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
			a.console = append(a.console, "uncaught: "+msg)
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeWarning {
			return
		}
		var parts []string
		for _, arg := range ev.Args {
			if arg.Description != "" {
				parts = append(parts, arg.Description)
			} else {
				parts = append(parts, string(arg.Value))
			}
		}
		a.console = append(a.console, "console."+string(ev.Type)+": "+strings.Join(parts, " "))
	case *log.EventEntryAdded:
		// Content-Security-Policy violations and failed loads are reported here.
		if e := ev.Entry; e != nil {
			a.console = append(a.console, fmt.Sprintf("%s %s: %s %s", e.Level, e.Source, e.Text, e.URL))
			if e.Source == log.EntrySourceSecurity {
				a.csp = append(a.csp, e.Text)
			}
		}
	}
}

func (a *pageActivity) requestURLs() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.requests...)
}

func (a *pageActivity) violations() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.csp...)
}

func (a *pageActivity) report() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var b strings.Builder
	section := func(name string, lines []string) {
		fmt.Fprintf(&b, "%s (%d):\n", name, len(lines))
		for _, l := range lines {
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	section("requests", a.requests)
	section("failed loads", a.failed)
	section("console", a.console)
	return b.String()
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
