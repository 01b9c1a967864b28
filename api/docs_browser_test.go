package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chromedp/chromedp"

	"github.com/dataport/dataport/internal/browsertest"
	"github.com/dataport/dataport/store"
)

// TestDocsRenderInBrowser opens /docs in a real headless Chromium and checks
// that Swagger UI renders the operations of /openapi.json, and that the page
// asks no host other than the dataport server for anything. The other docs
// tests read the HTML and the assets as text; only a browser shows that the
// vendored bundle actually runs, fetches the spec and draws it under the
// page's Content-Security-Policy, and that nothing in the bundle reaches for a
// CDN, a font service or the public validator. Exchanges can run dataport
// with no internet access, so a page that needs one is a broken page.
func TestDocsRenderInBrowser(t *testing.T) {
	x := newExchange(t, store.SQLite)
	server, err := url.Parse(x.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	// The recorder listens before the tab's first command, so it sees every
	// request of the page, the navigation to /docs included.
	tabCtx, seen := browsertest.Start(t, 30*time.Second)
	resp, err := chromedp.Run(tabCtx, chromedp.NavigateResponse(x.srv.URL+"/docs#/registry"))
	if err != nil {
		t.Fatalf("open /docs: %v\n%s", err, seen.Report())
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("/docs: status %d\n%s", resp.Status, seen.Report())
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
			operation, err, clip(pageText(tabCtx)), seen.Report())
	}

	title, err := chromedp.Run(tabCtx, chromedp.Text(chromedp.CSS(".swagger-ui .info .title")))
	if err != nil {
		t.Fatalf("read the API title: %v\n%s", err, seen.Report())
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
	requests := seen.Requests()
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
	for _, v := range seen.Security() {
		t.Errorf("Content-Security-Policy violation: %s", v)
	}
	if t.Failed() {
		t.Log(seen.Report())
	}
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

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
