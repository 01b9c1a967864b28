// Package dcat harvests a catalog published with the W3C Data Catalog Vocabulary
// (DCAT 2 or 3, https://www.w3.org/TR/vocab-dcat-3/, and its application profiles
// such as DCAT-AP 3) in JSON-LD 1.1 — among them the exchange's own /catalog.jsonld.
//
// Each page is expanded (JSON-LD 1.1 Processing Algorithms §5), so that any context
// and any shape — datasets nested in the catalog, listed flat in @graph, or referred
// to by @id and described beside it — reads the same. A remote @context is never
// fetched: the DCAT-AP 3, DCAT-US 1.1 and W3C DCAT contexts are served from local
// copies (Options.Contexts adds others), and any other remote context fails the page
// with a message naming it.
//
// Paging follows, in this order, an HTTP Link header with rel="next" (RFC 8288), as
// the exchange's own export sends, and the Hydra Core vocabulary in the body:
// hydra:next (of a hydra:PartialCollectionView) or the older hydra:nextPage (of a
// hydra:PagedCollection, as ckanext-dcat writes).
//
// Each dcat:Dataset (a node typed so, or the object of dcat:dataset) is one record;
// see Connector.Read for the mapping.
package dcat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/piprate/json-gold/ld"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/harvest"
)

// Defaults of Options.
const (
	DefaultRetries      = 3
	DefaultBackoff      = time.Second
	DefaultMaxPageBytes = 64 << 20
	DefaultMaxPages     = 10000
)

// Options tune a Connector. The zero value is usable.
type Options struct {
	// Client makes the requests; its Timeout bounds each page. Nil means a client
	// with a 60-second timeout.
	Client *http.Client
	// Retries is how many more times a failing page is requested: DefaultRetries
	// when 0, none when negative.
	Retries int
	// Backoff is the wait before the first retry, doubled before each next one (at
	// most 30 s). DefaultBackoff when 0.
	Backoff time.Duration
	// MaxPageBytes bounds one page: DefaultMaxPageBytes when 0.
	MaxPageBytes int64
	// MaxPages bounds the pages followed: DefaultMaxPages when 0.
	MaxPages int
	// Contexts adds remote JSON-LD contexts the catalog names, by URL: each value
	// is the context document ({"@context": …}) or the context itself.
	Contexts map[string]any
	// UserAgent is sent with every request; "dataport-harvest" when empty.
	UserAgent string
}

// Connector reads one DCAT catalog. It implements harvest.Connector.
type Connector struct {
	url    string
	opts   Options
	loader *loader
}

var _ harvest.Connector = (*Connector)(nil)

// New returns a connector for the catalog whose first page is at catalogURL.
func New(catalogURL string, opts Options) *Connector {
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 60 * time.Second}
	}
	if opts.Retries == 0 {
		opts.Retries = DefaultRetries
	}
	opts.Retries = max(opts.Retries, 0)
	if opts.Backoff <= 0 {
		opts.Backoff = DefaultBackoff
	}
	if opts.MaxPageBytes <= 0 {
		opts.MaxPageBytes = DefaultMaxPageBytes
	}
	if opts.MaxPages <= 0 {
		opts.MaxPages = DefaultMaxPages
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "dataport-harvest"
	}
	return &Connector{url: catalogURL, opts: opts, loader: newLoader(opts.Contexts)}
}

// Read follows the catalog's pages and yields each dataset as a Record:
//
//	ID               the dataset's @id; for a blank node, its dct:identifier
//	Title            dct:title         (language-tagged: zh → Zh, en → En, untagged by script)
//	Description      dct:description   (likewise)
//	Keywords         dcat:keyword      (every language)
//	Categories       dcat:theme        (the concept's IRI, else its label)
//	Publisher        dct:publisher     (foaf:name, skos:prefLabel, vcard:fn, … else the agent's IRI)
//	Contact          dcat:contactPoint (vcard:hasEmail without "mailto:", else vcard:hasURL, else vcard:fn)
//	Homepage         dcat:landingPage
//	License          dct:license of the dataset, else of its first distribution that has one
//	UpdateFrequency  dct:accrualPeriodicity
//	Citation         dct:bibliographicCitation
//	Issued, Modified dct:issued, dct:modified (xsd:dateTime, xsd:date, gYearMonth, gYear; UTC when zoneless)
//	Distributions    dcat:distribution: dct:title, dcat:downloadURL else dcat:accessURL,
//	                 dct:format, dcat:mediaType (IANA IRIs shortened to "text/csv"), dcat:byteSize
//	Extra            every other property of the dataset, prefixed ("dct:spatial") and simplified
//	Ref              the page's URL
//
// Problems: a blank-node dataset without dct:identifier, a dataset without a title,
// with an unreadable date or byte size, listed by the catalog but not described,
// or already read on an earlier page; a page that cannot be expanded when a Link
// header still leads on; paging that loops back. Read returns an error when the first
// page cannot be read or is not a DCAT catalog, and when a later page cannot be
// read, since the pages after it are then out of reach.
func (c *Connector) Read(ctx context.Context, yield func(harvest.Record) error, problem func(harvest.Problem)) error {
	const op = "dcat.Read"
	seen := map[string]string{} // dataset id → the page it was read on
	visited := map[string]bool{}
	next := c.url
	for n := 1; next != ""; n++ {
		if n > c.opts.MaxPages {
			return &dataport.Error{Op: op, Kind: dataport.KindInvalid, Message: fmt.Sprintf("catalog %s has more than %d pages", c.url, c.opts.MaxPages)}
		}
		u := next
		visited[u] = true
		pg, err := c.fetch(ctx, u)
		if err != nil {
			if ctx.Err() != nil {
				return &dataport.Error{Op: op, Kind: dataport.KindUnavailable, Message: "harvest cancelled", Err: ctx.Err()}
			}
			msg := fmt.Sprintf("catalog %s cannot be read: first page", c.url)
			if n > 1 {
				msg = fmt.Sprintf("catalog %s: page %d (%s) not read after %d attempts, and the pages after it are out of reach", c.url, n, u, c.opts.Retries+1)
			}
			return &dataport.Error{Op: op, Kind: kindOf(err), Message: msg, Err: err}
		}
		opts := ld.NewJsonLdOptions(pg.url)
		opts.DocumentLoader = c.loader
		expanded, err := expand(pg.doc, opts)
		if err != nil {
			if n > 1 && pg.linkNext != "" {
				problem(harvest.Problem{Ref: u, Reason: fmt.Sprintf("page %d is not valid JSON-LD: %v", n, err)})
				next = c.nextURL(pg.url, pg.linkNext, visited, problem)
				continue
			}
			return &dataport.Error{Op: op, Kind: dataport.KindInvalid, Message: fmt.Sprintf("catalog %s: page %d (%s) is not valid JSON-LD", c.url, n, u), Err: err}
		}
		g := newGraph(expanded)
		if n == 1 && len(g.datasets) == 0 && !g.hasCatalog() {
			return &dataport.Error{Op: op, Kind: dataport.KindInvalid,
				Message: fmt.Sprintf("catalog %s: the first page has no dcat:Catalog and no dcat:Dataset (is its @context right?)", c.url)}
		}
		for i, cand := range g.datasets {
			if _, read := seen[cand.id]; read && len(g.byID[cand.id]) <= 1 {
				continue // listed again by reference only: nothing new
			}
			rec, p := c.dataset(g, cand, i+1, u)
			if p != nil {
				problem(*p)
				continue
			}
			if at, dup := seen[rec.ID]; dup {
				problem(harvest.Problem{Ref: u, ID: rec.ID, Field: "@id", Reason: fmt.Sprintf("dataset %s was already read on %s; read once", rec.ID, at)})
				continue
			}
			seen[rec.ID] = u
			if err := yield(rec); err != nil {
				return err
			}
		}
		link := pg.linkNext
		if link == "" {
			link = g.next
		}
		next = c.nextURL(pg.url, link, visited, problem)
	}
	return nil
}

// expand expands a page as JSON-LD, and returns a panic of json-gold as an error:
// the library asserts the types of what it walks, and some pages break those
// assertions (an object {"": 0} panics in expandObject). A page is another
// platform's input: a malformed one is refused, not the end of the harvester.
func expand(doc any, opts *ld.JsonLdOptions) (expanded []any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("JSON-LD expansion failed: %v", r)
		}
	}()
	return ld.NewJsonLdProcessor().Expand(doc, opts)
}

// nextURL resolves link against the page URL, and ends paging with a problem when
// it leads back to a page already read.
func (c *Connector) nextURL(page, link string, visited map[string]bool, problem func(harvest.Problem)) string {
	if link == "" {
		return ""
	}
	base, err1 := url.Parse(page)
	ref, err2 := url.Parse(link)
	if err1 != nil || err2 != nil {
		problem(harvest.Problem{Ref: page, Reason: fmt.Sprintf("next page link %q is not a URL: paging stops", link)})
		return ""
	}
	next := base.ResolveReference(ref).String()
	if visited[next] {
		problem(harvest.Problem{Ref: page, Reason: fmt.Sprintf("next page %s was already read: paging loops, and stops", next)})
		return ""
	}
	return next
}

// hasCatalog reports whether the page has a dcat:Catalog.
func (g *graph) hasCatalog() bool {
	return g.catalogSeen
}

// dataset maps the i-th dataset of the page at u.
func (c *Connector) dataset(g *graph, cand candidate, i int, u string) (harvest.Record, *harvest.Problem) {
	n, id := cand.anon, ""
	if cand.id != "" {
		n = g.byID[cand.id]
		if !strings.HasPrefix(cand.id, "_:") {
			id = cand.id
		}
	}
	if len(n) <= 1 {
		return harvest.Record{}, &harvest.Problem{Ref: u, ID: id, Field: "dcat:dataset",
			Reason: fmt.Sprintf("dataset %s is listed but not described on this page", cand.id)}
	}
	rec, ferr := g.record(n, u)
	what := fmt.Sprintf("dataset #%d on the page", i)
	if t := title(rec.Title); t != "" {
		what += fmt.Sprintf(" (%q)", t)
	}
	if id == "" {
		if id = g.text(n, dctIdentifier); id == "" {
			return rec, &harvest.Problem{Ref: u, Field: "@id",
				Reason: what + " is a blank node without dct:identifier: it has no stable id"}
		}
	}
	rec.ID = id
	if rec.Title == (dataport.Bilingual{}) {
		return rec, &harvest.Problem{Ref: u, ID: id, Field: "dct:title", Reason: what + " has no dct:title"}
	}
	if ferr != nil {
		return rec, &harvest.Problem{Ref: u, ID: id, Field: ferr.field, Reason: what + ": " + ferr.field + " " + ferr.reason}
	}
	return rec, nil
}

func title(b dataport.Bilingual) string { return cmp(b.En, b.Zh) }

// page is one fetched catalog page.
type page struct {
	url      string // after redirects
	doc      any
	linkNext string
}

type httpError struct{ status int }

func (e *httpError) Error() string {
	return fmt.Sprintf("HTTP %d %s", e.status, http.StatusText(e.status))
}

// formatError is a body that is not JSON.
type formatError struct{ msg string }

func (e *formatError) Error() string { return e.msg }

func retryable(err error) bool {
	var he *httpError
	if errors.As(err, &he) {
		return he.status >= 500 || he.status == http.StatusTooManyRequests || he.status == http.StatusRequestTimeout
	}
	return true
}

func kindOf(err error) dataport.Kind {
	var he *httpError
	if errors.As(err, &he) {
		switch {
		case he.status == http.StatusNotFound || he.status == http.StatusGone:
			return dataport.KindNotFound
		case he.status == http.StatusUnauthorized:
			return dataport.KindUnauthorized
		case he.status == http.StatusForbidden:
			return dataport.KindForbidden
		case he.status >= 500 || he.status == http.StatusTooManyRequests:
			return dataport.KindUnavailable
		}
		return dataport.KindInvalid
	}
	var fe *formatError
	if errors.As(err, &fe) {
		return dataport.KindInvalid
	}
	return dataport.KindUnavailable
}

// fetch gets the page at u, retrying with backoff.
func (c *Connector) fetch(ctx context.Context, u string) (*page, error) {
	wait := c.opts.Backoff
	for attempt := 0; ; attempt++ {
		pg, err := c.get(ctx, u)
		if err == nil {
			return pg, nil
		}
		if attempt >= c.opts.Retries || !retryable(err) || ctx.Err() != nil {
			return nil, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
		wait = min(wait*2, 30*time.Second)
	}
}

func (c *Connector) get(ctx context.Context, u string) (*page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, &formatError{msg: fmt.Sprintf("bad page URL: %v", err)}
	}
	req.Header.Set("Accept", "application/ld+json, application/json;q=0.9")
	req.Header.Set("User-Agent", c.opts.UserAgent)
	resp, err := c.opts.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &httpError{status: resp.StatusCode}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxPageBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > c.opts.MaxPageBytes {
		return nil, &formatError{msg: fmt.Sprintf("page larger than %d bytes", c.opts.MaxPageBytes)}
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))))
	if err := dec.Decode(&doc); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, &formatError{msg: fmt.Sprintf("not JSON-LD (Content-Type %q): %v", resp.Header.Get("Content-Type"), err)}
		}
		return nil, err // cut short: worth another try
	}
	pg := &page{url: resp.Request.URL.String(), doc: doc}
	for rel, links := range ld.ParseLinkHeader(strings.Join(resp.Header.Values("Link"), ", ")) {
		for _, r := range strings.Fields(rel) {
			if strings.EqualFold(r, "next") && len(links) > 0 && pg.linkNext == "" {
				pg.linkNext = links[0]["target"]
			}
		}
	}
	return pg, nil
}
