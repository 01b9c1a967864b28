package ckan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dataport/dataport/harvest"
)

// page is one package_search response, mapped: its packages as records or problems,
// in order, and result.count.
type page struct {
	count int
	n     int // packages on the page, read or not
	items []item
}

type item struct {
	rec     harvest.Record
	problem *harvest.Problem
}

// httpError is a response with a status other than 200.
type httpError struct {
	status int
	msg    string // the CKAN error message, when the body had one
}

func (e *httpError) Error() string {
	s := fmt.Sprintf("HTTP %d %s", e.status, http.StatusText(e.status))
	if e.msg != "" {
		s += ": " + e.msg
	}
	return s
}

// apiError is an envelope with "success": false.
type apiError struct{ typ, msg string }

func (e *apiError) Error() string {
	return fmt.Sprintf("CKAN error %s: %s", e.typ, e.msg)
}

// formatError is a body that is not a package_search response.
type formatError struct{ msg string }

func (e *formatError) Error() string { return e.msg }

// retryable reports whether another attempt at the page may succeed: transport
// errors and timeouts, 5xx, 408 and 429, and bodies cut short. A CKAN error envelope
// and a client error are answers, not accidents.
func retryable(err error) bool {
	var he *httpError
	if errors.As(err, &he) {
		return he.status >= 500 || he.status == http.StatusTooManyRequests || he.status == http.StatusRequestTimeout
	}
	var ae *apiError
	return !errors.As(err, &ae)
}

// fetch gets and decodes the page at u, retrying as Options say.
func (c *Connector) fetch(ctx context.Context, u string) (*page, error) {
	wait := c.opts.Backoff
	for attempt := 0; ; attempt++ {
		pg, retryAfter, err := c.get(ctx, u)
		if err == nil {
			return pg, nil
		}
		if attempt >= c.opts.Retries || !retryable(err) || ctx.Err() != nil {
			return nil, err
		}
		d := wait
		if retryAfter > 0 {
			d = retryAfter
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
		wait = min(wait*2, 30*time.Second)
	}
}

// get makes one attempt at the page at u. retryAfter is the server's Retry-After,
// when it gave one of at most a minute.
func (c *Connector) get(ctx context.Context, u string) (pg *page, retryAfter time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, &formatError{msg: fmt.Sprintf("bad page URL: %v", err)}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.opts.UserAgent)
	resp, err := c.opts.Client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body := &limitReader{r: resp.Body, n: c.opts.MaxPageBytes}
	if resp.StatusCode != http.StatusOK {
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 && s <= 60 {
			retryAfter = time.Duration(s) * time.Second
		}
		he := &httpError{status: resp.StatusCode}
		// CKAN answers errors with its envelope too: keep its message.
		var env struct {
			Error struct {
				Type    string `json:"__type"`
				Message any    `json:"message"`
			} `json:"error"`
		}
		if json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&env) == nil && env.Error.Type != "" {
			he.msg = env.Error.Type
			if env.Error.Message != nil {
				he.msg += ": " + fmt.Sprint(env.Error.Message)
			}
		}
		return nil, retryAfter, he
	}
	pg, err = c.decode(body, u)
	if err != nil {
		var se *json.SyntaxError
		switch {
		case body.over:
			err = &formatError{msg: fmt.Sprintf("response larger than %d bytes", c.opts.MaxPageBytes)}
		case errors.As(err, &se):
			err = &formatError{msg: fmt.Sprintf("not JSON (Content-Type %q): %v", resp.Header.Get("Content-Type"), err)}
		}
		return nil, 0, err
	}
	return pg, 0, nil
}

// decode reads a package_search envelope from r as a stream: each package is decoded
// and mapped as soon as it is read, so the page's JSON is never held whole.
func (c *Connector) decode(r io.Reader, u string) (*page, error) {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	var (
		pg        = &page{count: -1}
		success   *bool
		apiErr    *apiError
		hasResult bool
	)
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch key {
		case "success":
			var b bool
			if err := dec.Decode(&b); err != nil {
				return nil, &formatError{msg: fmt.Sprintf("success: %v", err)}
			}
			success = &b
		case "error":
			var e struct {
				Type    string `json:"__type"`
				Message any    `json:"message"`
			}
			if err := dec.Decode(&e); err != nil {
				return nil, err
			}
			apiErr = &apiError{typ: e.Type, msg: fmt.Sprint(e.Message)}
		case "result":
			hasResult = true
			if err := c.decodeResult(dec, pg, u); err != nil {
				return nil, err
			}
		default:
			if err := skip(dec); err != nil {
				return nil, err
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace: a cut body fails here
		return nil, err
	}
	switch {
	case success != nil && !*success:
		if apiErr == nil {
			apiErr = &apiError{typ: "unknown", msg: "success is false"}
		}
		return nil, apiErr
	case success == nil && !hasResult:
		return nil, &formatError{msg: "not a CKAN Action API response: no success, no result"}
	case !hasResult:
		return nil, &formatError{msg: "response has no result"}
	case pg.count < 0:
		return nil, &formatError{msg: "result has no count"}
	}
	return pg, nil
}

// decodeResult reads package_search's result object: count and results.
func (c *Connector) decodeResult(dec *json.Decoder, pg *page, u string) error {
	if err := expectDelim(dec, '{'); err != nil {
		return &formatError{msg: fmt.Sprintf("result is not an object: %v", err)}
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return err
		}
		switch key {
		case "count":
			if err := dec.Decode(&pg.count); err != nil {
				return &formatError{msg: fmt.Sprintf("result.count: %v", err)}
			}
		case "results":
			if err := expectDelim(dec, '['); err != nil {
				return &formatError{msg: fmt.Sprintf("result.results is not an array: %v", err)}
			}
			for dec.More() {
				// A field of the wrong type fails the package, not the stream:
				// the decoder still reads past the whole value.
				var p pkg
				err := dec.Decode(&p)
				var te *json.UnmarshalTypeError
				if err != nil && !errors.As(err, &te) {
					return err
				}
				pg.n++
				pg.items = append(pg.items, c.mapPackage(&p, err, u, pg.n))
			}
			if _, err := dec.Token(); err != nil {
				return err
			}
		default:
			if err := skip(dec); err != nil {
				return err
			}
		}
	}
	_, err := dec.Token()
	return err
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return &formatError{msg: fmt.Sprintf("expected %q, found %v", want, tok)}
	}
	return nil
}

// skip reads past one value.
func skip(dec *json.Decoder) error {
	var v json.RawMessage
	return dec.Decode(&v)
}

// limitReader fails once more than n bytes are read.
type limitReader struct {
	r    io.Reader
	n    int64
	over bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		l.over = true
		return 0, errors.New("response too large")
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// describe shortens an error for a Problem's reason.
func describe(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "json: ")
	return s
}
