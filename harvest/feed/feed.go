package feed

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/harvest"
)

// Format is a feed's file format.
type Format string

// The formats of a feed.
const (
	CSV   Format = "csv"
	JSONL Format = "jsonl"
)

// MaxLine bounds one JSON Lines record.
const MaxLine = 16 << 20

// Connector reads one partner feed. It implements harvest.Connector.
type Connector struct {
	source string
	name   string // source without a URL's query or user info, for reports
	format Format
	// Client fetches a source that is an http(s) URL. Nil means a client with a
	// 10-minute timeout (the whole feed is read in one request).
	Client *http.Client
}

var _ harvest.Connector = (*Connector)(nil)

// New returns a connector for the feed at source, a file path or an http(s) URL. An
// empty format is taken from source's extension: .csv, .jsonl or .ndjson.
func New(source string, format Format) *Connector {
	if format == "" {
		p := source
		if u, err := url.Parse(source); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
			p = u.Path
		}
		switch strings.ToLower(path.Ext(p)) {
		case ".csv":
			format = CSV
		case ".jsonl", ".ndjson":
			format = JSONL
		}
	}
	name := source
	if u, err := url.Parse(source); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		// A signed or tokened feed URL must not end up in run reports.
		u.User, u.RawQuery, u.Fragment = nil, "", ""
		name = u.String()
	}
	return &Connector{source: source, name: name, format: format}
}

// Read reads the feed and yields each good record in file order; see the package
// documentation for the rules and the problems reported.
func (c *Connector) Read(ctx context.Context, yield func(harvest.Record) error, problem func(harvest.Problem)) error {
	const op = "feed.Read"
	if c.format != CSV && c.format != JSONL {
		return &dataport.Error{Op: op, Kind: dataport.KindInvalid, Message: fmt.Sprintf("feed %s: unknown format %q (csv or jsonl)", c.name, c.format)}
	}
	body, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer body.Close()
	r := bufio.NewReaderSize(body, 64<<10)
	if bom, _ := r.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		r.Discard(3)
	}
	rd := &reader{src: c.name, seen: map[string]int{}, yield: yield, problem: problem}
	if c.format == CSV {
		err = rd.csv(ctx, r)
	} else {
		err = rd.jsonl(ctx, r)
	}
	var de *dataport.Error
	switch {
	case rd.yieldErr != nil:
		return rd.yieldErr
	case err == nil || errors.As(err, &de):
		return err
	case ctx.Err() != nil:
		return &dataport.Error{Op: op, Kind: dataport.KindUnavailable, Message: "harvest cancelled", Err: ctx.Err()}
	default:
		return &dataport.Error{Op: op, Kind: dataport.KindUnavailable, Message: fmt.Sprintf("feed %s could not be read to its end", c.name), Err: err}
	}
}

func (c *Connector) open(ctx context.Context) (io.ReadCloser, error) {
	const op = "feed.Read"
	u, err := url.Parse(c.source)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		f, err := os.Open(c.source)
		if err != nil {
			kind := dataport.KindUnavailable
			if errors.Is(err, os.ErrNotExist) {
				kind = dataport.KindNotFound
			}
			return nil, &dataport.Error{Op: op, Kind: kind, Message: fmt.Sprintf("feed %s cannot be opened", c.name), Err: err}
		}
		return f, nil
	}
	client := c.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Minute}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.source, nil)
	if err != nil {
		return nil, &dataport.Error{Op: op, Kind: dataport.KindInvalid, Message: fmt.Sprintf("feed URL %s", c.name), Err: err}
	}
	req.Header.Set("User-Agent", "dataport-harvest")
	resp, err := client.Do(req)
	if err != nil {
		if ue, ok := err.(*url.Error); ok {
			ue.URL = c.name
		}
		return nil, &dataport.Error{Op: op, Kind: dataport.KindUnavailable, Message: fmt.Sprintf("feed %s cannot be fetched", c.name), Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		kind := dataport.KindUnavailable
		switch {
		case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
			kind = dataport.KindNotFound
		case resp.StatusCode == http.StatusUnauthorized:
			kind = dataport.KindUnauthorized
		case resp.StatusCode == http.StatusForbidden:
			kind = dataport.KindForbidden
		}
		return nil, &dataport.Error{Op: op, Kind: kind, Message: fmt.Sprintf("feed %s: HTTP %d %s", c.name, resp.StatusCode, http.StatusText(resp.StatusCode))}
	}
	return resp.Body, nil
}

// reader holds one read's state.
type reader struct {
	src     string
	seen    map[string]int // id → line
	yield   func(harvest.Record) error
	problem func(harvest.Problem)
	// yieldErr is the error yield returned, which ends the read and is returned
	// as it is.
	yieldErr error
}

func (rd *reader) ref(line int) string { return fmt.Sprintf("%s:%d", rd.src, line) }

// emit checks a record's id against the earlier lines and yields it.
func (rd *reader) emit(rec harvest.Record, line int) error {
	if at, dup := rd.seen[rec.ID]; dup {
		rd.problem(harvest.Problem{Ref: rd.ref(line), ID: rec.ID, Field: "id",
			Reason: fmt.Sprintf("line %d: id %q is already used on line %d; this line is left out", line, rec.ID, at)})
		return nil
	}
	rd.seen[rec.ID] = line
	rd.yieldErr = rd.yield(rec)
	return rd.yieldErr
}

// faults collects what is wrong with one record.
type faults struct {
	field   string
	reasons []string
	fields  []string
}

func (f *faults) add(field, format string, args ...any) {
	if f.field == "" {
		f.field = field
	}
	f.reasons = append(f.reasons, field+": "+fmt.Sprintf(format, args...))
	f.fields = append(f.fields, field)
}

// has reports whether a fault was already found in any of fields, so that a field
// of the wrong type is not also reported missing.
func (f *faults) has(fields ...string) bool {
	for _, x := range fields {
		if slices.Contains(f.fields, x) {
			return true
		}
	}
	return false
}

func (rd *reader) report(line int, id string, f *faults) {
	rd.problem(harvest.Problem{Ref: rd.ref(line), ID: id, Field: f.field,
		Reason: fmt.Sprintf("line %d: %s", line, strings.Join(f.reasons, "; "))})
}

// fields is one record's values by field name, as text; lists are already split.
type fields struct {
	text  map[string]string
	lists map[string][]string
	dists []harvest.Distribution
	extra map[string]any
}

var textFields = []string{"id", "title_zh", "title_en", "summary_zh", "summary_en", "description_zh", "description_en",
	"publisher", "contact", "homepage", "license", "update_frequency", "citation", "issued", "modified", "deprecated"}

var listFields = []string{"keywords", "categories"}

// record validates and maps one record's fields.
func record(fs fields, ref string, f *faults) harvest.Record {
	t := func(name string) string { return strings.TrimSpace(fs.text[name]) }
	r := harvest.Record{
		ID:              t("id"),
		Ref:             ref,
		Title:           dataport.Bilingual{Zh: t("title_zh"), En: t("title_en")},
		Summary:         dataport.Bilingual{Zh: t("summary_zh"), En: t("summary_en")},
		Description:     dataport.Bilingual{Zh: t("description_zh"), En: t("description_en")},
		Publisher:       t("publisher"),
		Contact:         t("contact"),
		Homepage:        t("homepage"),
		License:         t("license"),
		UpdateFrequency: t("update_frequency"),
		Citation:        t("citation"),
		Keywords:        fs.lists["keywords"],
		Categories:      fs.lists["categories"],
		Distributions:   fs.dists,
	}
	if r.ID == "" && !f.has("id") {
		f.add("id", "missing")
	}
	if r.Title.Zh == "" && r.Title.En == "" && !f.has("title_zh", "title_en") {
		f.add("title", "missing: give title_zh, title_en or both")
	}
	if r.Contact != "" && !isEmail(r.Contact) && !isURL(r.Contact, false) {
		f.add("contact", "%q is neither an e-mail address nor an absolute URL", r.Contact)
	}
	if r.Homepage != "" && !isURL(r.Homepage, true) {
		f.add("homepage", "%q is not an absolute http(s) URL", r.Homepage)
	}
	var err error
	if r.Issued, err = parseTime(t("issued")); err != nil {
		f.add("issued", "%v", err)
	}
	if r.Modified, err = parseTime(t("modified")); err != nil {
		f.add("modified", "%v", err)
	}
	switch strings.ToLower(t("deprecated")) {
	case "", "false", "0", "no":
	case "true", "1", "yes":
		r.Deprecated = true
	default:
		f.add("deprecated", "%q is not true or false", t("deprecated"))
	}
	for i, d := range r.Distributions {
		if !isURL(d.URL, false) {
			f.add(fmt.Sprintf("distributions[%d].url", i), "%q is not an absolute URL", d.URL)
		}
	}
	if len(fs.extra) > 0 {
		r.Extra = fs.extra
	}
	return r
}

func isEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && strings.Contains(domain, ".") && !strings.ContainsAny(s, " \t<>,;\"") && !strings.Contains(domain, "@")
}

func isURL(s string, web bool) bool {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || strings.ContainsAny(s, " \t") {
		return false
	}
	if web {
		return (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
	}
	return u.Host != "" || u.Opaque != ""
}

// parseTime reads an RFC 3339 date-time (with its zone) or a date (UTC).
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 date-time with a zone (2024-06-30T08:00:00+08:00) nor a date (2024-06-30)", s)
}

// splitList splits a CSV list on ";" and "；", trimming and dropping empty items and
// repeats.
func splitList(s string) []string {
	var out []string
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '；' }) {
		if p := strings.TrimSpace(part); p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// csv reads a CSV feed.
func (rd *reader) csv(ctx context.Context, r io.Reader) error {
	const op = "feed.Read"
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 0 // the header sets it
	header, err := cr.Read()
	if err != nil {
		if err == io.EOF {
			return &dataport.Error{Op: op, Kind: dataport.KindInvalid, Message: fmt.Sprintf("feed %s is empty: it needs a header row", rd.src)}
		}
		return &dataport.Error{Op: op, Kind: dataport.KindInvalid, Message: fmt.Sprintf("feed %s: the header row cannot be read", rd.src), Err: err}
	}
	cols := map[string]int{}
	names := make([]string, len(header))
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		names[i] = name
		if name == "" {
			return &dataport.Error{Op: op, Kind: dataport.KindInvalid, Message: fmt.Sprintf("feed %s: header column %d has no name", rd.src, i+1)}
		}
		if _, dup := cols[name]; dup {
			return &dataport.Error{Op: op, Kind: dataport.KindInvalid, Message: fmt.Sprintf("feed %s: header names %q twice", rd.src, name)}
		}
		cols[name] = i
	}
	_, hasZh := cols["title_zh"]
	_, hasEn := cols["title_en"]
	if _, ok := cols["id"]; !ok || (!hasZh && !hasEn) {
		return &dataport.Error{Op: op, Kind: dataport.KindInvalid,
			Message: fmt.Sprintf("feed %s: the header must name id and title_zh or title_en (it has %s)", rd.src, strings.Join(header, ","))}
	}
	known := map[string]bool{"distribution_urls": true, "distribution_formats": true}
	for _, n := range textFields {
		known[n] = true
	}
	for _, n := range listFields {
		known[n] = true
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		row, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			f := &faults{}
			id := ""
			if errors.Is(err, csv.ErrFieldCount) {
				f.add("row", "%d fields, the header has %d", len(row), len(header))
				if i := cols["id"]; i < len(row) {
					id = strings.TrimSpace(row[i])
				}
			} else {
				f.add("row", "not valid CSV: %v", pe.Err)
			}
			rd.report(pe.StartLine, id, f)
			continue
		}
		if err != nil {
			return err
		}
		line, _ := cr.FieldPos(0)
		f := &faults{}
		fs := fields{text: map[string]string{}, lists: map[string][]string{}, extra: map[string]any{}}
		for i, v := range row {
			name := names[i]
			if !utf8.ValidString(v) {
				f.add(name, "not UTF-8 text (save the feed as UTF-8, not GBK or another code page)")
				continue
			}
			switch {
			case slices.Contains(listFields, name):
				fs.lists[name] = splitList(v)
			case known[name]:
				fs.text[name] = v
			case strings.TrimSpace(v) != "":
				fs.extra[name] = v
			}
		}
		urls := strings.Fields(fs.text["distribution_urls"])
		var formats []string
		if s := strings.TrimSpace(fs.text["distribution_formats"]); s != "" {
			formats = strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '；' })
			if len(formats) > len(urls) {
				f.add("distribution_formats", "%d formats for %d distribution_urls", len(formats), len(urls))
			}
		}
		for i, u := range urls {
			d := harvest.Distribution{URL: u}
			if i < len(formats) {
				d.Format = strings.TrimSpace(formats[i])
			}
			fs.dists = append(fs.dists, d)
		}
		rec := record(fs, rd.ref(line), f)
		if len(f.reasons) > 0 {
			rd.report(line, rec.ID, f)
			continue
		}
		if err := rd.emit(rec, line); err != nil {
			return err
		}
	}
}

// jsonl reads a JSON Lines feed.
func (rd *reader) jsonl(ctx context.Context, r *bufio.Reader) error {
	for line := 1; ; line++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		b, tooLong, err := readLine(r)
		if err != nil && err != io.EOF {
			return err
		}
		last := err == io.EOF
		switch {
		case tooLong:
			rd.report(line, "", &faults{field: "line", reasons: []string{fmt.Sprintf("longer than %d bytes", MaxLine)}})
		case len(bytes.TrimSpace(b)) == 0:
		default:
			if err := rd.jsonRecord(b, line); err != nil {
				return err
			}
		}
		if last {
			return nil
		}
	}
}

// readLine reads up to the next newline; a line over MaxLine is skipped whole.
func readLine(r *bufio.Reader) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := r.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(chunk) > MaxLine {
				tooLong, line = true, nil
			} else {
				line = append(line, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return line, tooLong, err
	}
}

// jsonDist is a distribution in JSON Lines.
type jsonDist struct {
	URL       string `json:"url"`
	Title     string `json:"title"`
	Format    string `json:"format"`
	MediaType string `json:"media_type"`
	Size      *int64 `json:"size"`
}

func (rd *reader) jsonRecord(b []byte, line int) error {
	f := &faults{}
	if !utf8.Valid(b) {
		f.add("line", "not UTF-8 text (save the feed as UTF-8, not GBK or another code page)")
		rd.report(line, "", f)
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			f.add("line", "not a JSON object")
		} else {
			f.add("line", "not valid JSON: %v", strings.TrimPrefix(err.Error(), "json: "))
		}
		rd.report(line, "", f)
		return nil
	}
	fs := fields{text: map[string]string{}, lists: map[string][]string{}, extra: map[string]any{}}
	for _, name := range slices.Sorted(maps.Keys(obj)) {
		raw := obj[name]
		if string(raw) == "null" {
			continue
		}
		switch {
		case name == "distribution_urls" || name == "distribution_formats":
			f.add(name, "is a CSV column: in JSON Lines, give distributions, an array of objects")
		case name == "deprecated":
			var v bool
			if json.Unmarshal(raw, &v) != nil {
				f.add(name, "must be true or false")
			} else if v {
				fs.text[name] = "true"
			}
		case slices.Contains(textFields, name):
			var v string
			if json.Unmarshal(raw, &v) != nil {
				f.add(name, "must be a string")
			}
			fs.text[name] = v
		case slices.Contains(listFields, name):
			var v []string
			if json.Unmarshal(raw, &v) != nil {
				f.add(name, "must be an array of strings")
			}
			for _, s := range v {
				if s = strings.TrimSpace(s); s != "" && !slices.Contains(fs.lists[name], s) {
					fs.lists[name] = append(fs.lists[name], s)
				}
			}
		case name == "distributions":
			var ds []jsonDist
			if err := json.Unmarshal(raw, &ds); err != nil {
				f.add(name, "must be an array of objects with url, title, format, media_type and size (%v)", strings.TrimPrefix(err.Error(), "json: "))
			}
			for i, d := range ds {
				hd := harvest.Distribution{URL: strings.TrimSpace(d.URL), Title: strings.TrimSpace(d.Title),
					Format: strings.TrimSpace(d.Format), MediaType: strings.TrimSpace(d.MediaType)}
				if d.Size != nil {
					if *d.Size < 0 {
						f.add(fmt.Sprintf("distributions[%d].size", i), "%d is negative", *d.Size)
					}
					hd.Size = *d.Size
				}
				fs.dists = append(fs.dists, hd)
			}
		default:
			var v any
			json.Unmarshal(raw, &v)
			fs.extra[name] = v
		}
	}
	rec := record(fs, rd.ref(line), f)
	if len(f.reasons) > 0 {
		rd.report(line, rec.ID, f)
		return nil
	}
	return rd.emit(rec, line)
}
