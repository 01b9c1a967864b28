package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// benchAPI sends the bench's requests, spreading them over the exchange's
// replicas in turn, as a round-robin load balancer would.
type benchAPI struct {
	http *http.Client
	urls []string
	next *atomic.Uint64
	// patient makes a 429 or 503 wait as its Retry-After says and try again, as
	// while the world is built; the timed mix counts them as the errors they are.
	patient bool
}

func newBenchAPI(urls []string, conns int) *benchAPI {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = conns * 2 * len(urls)
	t.MaxIdleConnsPerHost = conns * 2
	return &benchAPI{http: &http.Client{Transport: t, Timeout: 5 * time.Minute}, urls: urls, next: new(atomic.Uint64), patient: true}
}

// impatient is a, counting a 429 or 503 as an error.
func (a *benchAPI) impatient() *benchAPI {
	b := *a
	b.patient = false
	return &b
}

func (a *benchAPI) base() string {
	return a.urls[(a.next.Add(1)-1)%uint64(len(a.urls))]
}

// rawBody is a request body sent as it is, with its media type.
type rawBody struct {
	mediaType string
	b         []byte
}

// call sends a request with key (body: nil, a rawBody, or a value sent as JSON)
// and decodes a JSON answer into out (nil: none). An answer of 300 or more is an
// error that names the request and quotes the problem the server gave.
func (a *benchAPI) call(ctx context.Context, key, method, path string, body, out any, headers ...string) error {
	var payload []byte
	ctype := ""
	switch b := body.(type) {
	case nil:
	case rawBody:
		payload, ctype = b.b, b.mediaType
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return err
		}
		payload, ctype = j, "application/json"
	}
	var (
		res *http.Response
		raw []byte
	)
	for attempt := 0; ; attempt++ {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(payload)
		}
		req, err := http.NewRequestWithContext(ctx, method, a.base()+path, rd)
		if err != nil {
			return err
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		req.Header.Set("Authorization", "Bearer "+key)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		if res, err = a.http.Do(req); err != nil {
			return fmt.Errorf("%s %s: %w", method, shortPath(path), err)
		}
		raw, err = io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return fmt.Errorf("%s %s: reading the answer: %w", method, shortPath(path), err)
		}
		busy := res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable
		if !a.patient || !busy || attempt == 20 {
			break
		}
		wait := time.Second
		if secs, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && secs > 0 {
			wait = time.Duration(min(secs, 30)) * time.Second
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	if res.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, shortPath(path), res.StatusCode, problemText(raw))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: %d, not the JSON expected: %v", method, shortPath(path), res.StatusCode, err)
		}
	}
	return nil
}

// download fetches a deal's file whole and checks its SHA-256 against the one
// sealed in the revision's manifest.
func (a *benchAPI) download(ctx context.Context, key, dealID, path, sha string) error {
	p := "/api/v1/deals/" + dealID + "/download?path=" + url.QueryEscape(path)
	req, err := http.NewRequestWithContext(ctx, "GET", a.base()+p, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", shortPath(p), err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		return fmt.Errorf("GET %s: %d %s", shortPath(p), res.StatusCode, problemText(raw))
	}
	h := sha256.New()
	n, err := io.Copy(h, res.Body)
	if err != nil {
		return fmt.Errorf("GET %s: after %d bytes: %w", shortPath(p), n, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sha {
		return fmt.Errorf("GET %s: %d bytes with SHA-256 %s, the manifest seals %s", shortPath(p), n, got, sha)
	}
	return nil
}

// shortPath is a request's path without its query, for error messages.
func shortPath(p string) string {
	p, _, _ = strings.Cut(p, "?")
	return p
}

// problemText is an RFC 9457 problem's detail and field errors, or the start of
// any other answer.
func problemText(raw []byte) string {
	var p struct {
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Errors []struct {
			Location string `json:"location"`
			Message  string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(raw, &p) == nil && (p.Detail != "" || p.Title != "") {
		s := p.Title
		if p.Detail != "" {
			s = p.Detail
		}
		for _, e := range p.Errors {
			s += "; " + e.Location + ": " + e.Message
		}
		return s
	}
	if len(raw) > 300 {
		raw = raw[:300]
	}
	return strings.TrimSpace(string(raw))
}
