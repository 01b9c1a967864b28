// Package ckan harvests a CKAN portal through its Action API (API version 3).
//
// The connector pages through package_search
// (https://docs.ckan.org/en/latest/api/#ckan.logic.action.get.package_search):
//
//	GET {base}/api/3/action/package_search?q=…&fq=…&rows=N&start=K&sort=metadata_created asc, id asc
//
// A response is the Action API envelope
//
//	{"help": "…", "success": true, "result": {"count": 1234, "results": [package, …]}}
//
// and a failure is {"success": false, "error": {"__type": "…", "message": "…"}}, usually
// with a 4xx status. Pages are requested in a fixed order (oldest first, then by id) so
// that packages added while a run is under way land on the last pages instead of
// shifting every offset; paging stops when start reaches result.count.
//
// Each page is decoded as a stream (one package at a time, mapped at once to a
// harvest.Record), so memory holds one page of records, never the portal. A page
// that fails (an error status, a timeout, a broken body) is retried with backoff; a
// page that still fails is reported as a harvest.Problem whose Ref is the page URL
// and the run goes on with the next page, except for the first page (the portal is
// not readable: Read returns an error) and except when several pages in a row fail
// (the portal went away mid-run: Read returns an error, so that nothing is delisted).
package ckan

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/harvest"
)

// Defaults and limits of Options.
const (
	DefaultPageSize       = 100
	MaxPageSize           = 1000 // CKAN's own default ckan.search.rows_max
	DefaultRetries        = 3
	DefaultBackoff        = time.Second
	DefaultMaxPageBytes   = 64 << 20
	DefaultMaxFailedPages = 3
	DefaultSort           = "metadata_created asc, id asc"
)

// Options tune a Connector. The zero value is usable.
type Options struct {
	// PageSize is the rows requested per page: DefaultPageSize when 0, at most
	// MaxPageSize.
	PageSize int
	// Client makes the requests; its Timeout bounds each page. Nil means a client
	// with a 60-second timeout.
	Client *http.Client
	// Retries is how many more times a failing page is requested: DefaultRetries
	// when 0, none when negative.
	Retries int
	// Backoff is the wait before the first retry, doubled before each next one
	// (at most 30 s); a Retry-After header of up to a minute is honoured instead.
	// DefaultBackoff when 0.
	Backoff time.Duration
	// Query and FilterQuery are package_search's q and fq (Solr syntax), to harvest
	// part of a portal, e.g. FilterQuery "organization:statistics-office".
	Query, FilterQuery string
	// Sort overrides DefaultSort. It should be a total order that new packages
	// extend at the end.
	Sort string
	// MaxPageBytes bounds one response body: DefaultMaxPageBytes when 0.
	MaxPageBytes int64
	// MaxFailedPages is how many pages in a row may fail before Read gives up with
	// an error: DefaultMaxFailedPages when 0.
	MaxFailedPages int
	// UserAgent is sent with every request; "dataport-harvest" when empty.
	UserAgent string
}

// Connector reads one CKAN portal. It implements harvest.Connector.
type Connector struct {
	base string
	opts Options
}

var _ harvest.Connector = (*Connector)(nil)

// New returns a connector for the portal at baseURL (e.g. "https://catalog.data.gov",
// or a portal mounted under a path, "https://data.example.org/data").
func New(baseURL string, opts Options) *Connector {
	if opts.PageSize <= 0 {
		opts.PageSize = DefaultPageSize
	}
	opts.PageSize = min(opts.PageSize, MaxPageSize)
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
	if opts.Sort == "" {
		opts.Sort = DefaultSort
	}
	if opts.MaxPageBytes <= 0 {
		opts.MaxPageBytes = DefaultMaxPageBytes
	}
	if opts.MaxFailedPages <= 0 {
		opts.MaxFailedPages = DefaultMaxFailedPages
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "dataport-harvest"
	}
	return &Connector{base: strings.TrimSuffix(baseURL, "/"), opts: opts}
}

// PageURL returns the package_search URL of the page starting at offset start.
func (c *Connector) PageURL(start int) string {
	q := url.Values{}
	if c.opts.Query != "" {
		q.Set("q", c.opts.Query)
	}
	if c.opts.FilterQuery != "" {
		q.Set("fq", c.opts.FilterQuery)
	}
	q.Set("rows", strconv.Itoa(c.opts.PageSize))
	q.Set("start", strconv.Itoa(start))
	q.Set("sort", c.opts.Sort)
	return c.base + "/api/3/action/package_search?" + q.Encode()
}

// Read pages through the portal, yielding each package as a Record in page order.
// Problems: a package without id or title, with a malformed field, or whose id
// was already yielded (paging shifts while a portal changes); a page that could not
// be read after its retries (Ref is the page URL, ID is empty: the packages on it
// are unknown for this run).
func (c *Connector) Read(ctx context.Context, yield func(harvest.Record) error, problem func(harvest.Problem)) error {
	const op = "ckan.Read"
	seen := make(map[string]struct{})
	count, failedInRow := -1, 0
	// step is the page size the portal grants: ckan.search.rows_max may cap rows
	// below what was asked, silently, and a short page that is not the last shows it.
	step := c.opts.PageSize
	for start := 0; count < 0 || start < count; start += step {
		u := c.PageURL(start)
		pg, err := c.fetch(ctx, u)
		if err != nil {
			if ctx.Err() != nil {
				return &dataport.Error{Op: op, Kind: dataport.KindUnavailable, Message: "harvest cancelled", Err: ctx.Err()}
			}
			if count < 0 {
				return &dataport.Error{Op: op, Kind: kindOf(err), Message: fmt.Sprintf("CKAN portal %s cannot be read: first page %s", c.base, u), Err: err}
			}
			failedInRow++
			if failedInRow >= c.opts.MaxFailedPages {
				return &dataport.Error{Op: op, Kind: dataport.KindUnavailable,
					Message: fmt.Sprintf("CKAN portal %s: %d pages in a row failed, the last %s", c.base, failedInRow, u), Err: err}
			}
			problem(harvest.Problem{Ref: u, Reason: fmt.Sprintf("page (rows %d–%d) not read after %d attempts: %v", start, start+step-1, c.opts.Retries+1, err)})
			continue
		}
		failedInRow = 0
		count = pg.count
		if pg.n > 0 && pg.n < step && start+pg.n < count {
			step = pg.n
		}
		for _, it := range pg.items {
			if it.problem != nil {
				problem(*it.problem)
				continue
			}
			if _, dup := seen[it.rec.ID]; dup {
				problem(harvest.Problem{Ref: u, ID: it.rec.ID, Field: "id",
					Reason: fmt.Sprintf("package %s already read on an earlier page (the portal changed while it was paged); read once", it.rec.ID)})
				continue
			}
			seen[it.rec.ID] = struct{}{}
			if err := yield(it.rec); err != nil {
				return err
			}
		}
		if pg.n == 0 {
			break // the portal shrank under us: nothing beyond
		}
	}
	return nil
}

// kindOf classifies a page error for the run's error.
func kindOf(err error) dataport.Kind {
	var he *httpError
	if errors.As(err, &he) {
		switch {
		case he.status == http.StatusNotFound:
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
	var ae *apiError
	var fe *formatError
	if errors.As(err, &ae) || errors.As(err, &fe) {
		return dataport.KindInvalid
	}
	return dataport.KindUnavailable
}
