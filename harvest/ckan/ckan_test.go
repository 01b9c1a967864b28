package ckan_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/harvest"
	"github.com/dataport/dataport/harvest/ckan"
)

// portal serves package_search the way the CKAN Action API documents it: the
// envelope {"help", "success", "result": {"count", "results", …}}, paged by rows and
// start. fault, when set, may answer a page itself (attempt counts from 1).
type portal struct {
	t     testing.TB
	count int
	pkg   func(i int) map[string]any
	fault func(w http.ResponseWriter, r *http.Request, start, attempt int) bool

	mu       sync.Mutex
	attempts map[int]int
	queries  []string
}

func (p *portal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/3/action/package_search" {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	rows, err1 := strconv.Atoi(q.Get("rows"))
	start, err2 := strconv.Atoi(q.Get("start"))
	if err1 != nil || err2 != nil {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]any{"help": "…", "success": false,
			"error": map[string]any{"__type": "Validation Error", "rows": []string{"Invalid integer"}}})
		return
	}
	p.mu.Lock()
	if p.attempts == nil {
		p.attempts = map[int]int{}
	}
	p.attempts[start]++
	attempt := p.attempts[start]
	p.queries = append(p.queries, r.URL.RawQuery)
	p.mu.Unlock()
	if p.fault != nil && p.fault(w, r, start, attempt) {
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	// Written by hand, package by package, as a portal streams it.
	fmt.Fprintf(w, `{"help": "http://%s/api/3/action/help_show?name=package_search", "success": true, "result": {"count": %d, "facets": {}, "results": [`, r.Host, p.count)
	for i := start; i < min(start+rows, p.count); i++ {
		if i > start {
			w.Write([]byte(", "))
		}
		b, _ := json.Marshal(p.pkg(i))
		w.Write(b)
	}
	fmt.Fprintf(w, `], "sort": %q, "search_facets": {}}}`, q.Get("sort"))
}

func (p *portal) attemptsAt(start int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.attempts[start]
}

// fullPackage is a package as CKAN 2.10's package_search returns it, every field set.
func fullPackage() map[string]any {
	return map[string]any{
		"author": "Statistics Office", "author_email": "stats@port.example.org",
		"creator_user_id": "0d0b6a0c-1c1b-4a57-8f7e-2b1d0f5d7a11",
		"id":              "5b7c2d1e-8f3a-4c6b-9d0e-1a2b3c4d5e6f",
		"isopen":          true, "license_id": "cc-by", "license_title": "Creative Commons Attribution",
		"license_url": "http://www.opendefinition.org/licenses/cc-by",
		"maintainer":  "Open Data Team", "maintainer_email": "opendata@port.example.org",
		"metadata_created": "2021-03-04T10:20:30.123456", "metadata_modified": "2024-01-15T08:00:00.000001",
		"name": "port-throughput", "notes": "Monthly container throughput of the port, in TEU.",
		"num_resources": 2, "num_tags": 2,
		"organization": map[string]any{"id": "b1c2", "name": "port-authority", "title": "Port Authority",
			"type": "organization", "description": "", "image_url": "", "created": "2020-01-01T00:00:00",
			"is_organization": true, "approval_status": "approved", "state": "active"},
		"owner_org": "b1c2", "private": false, "state": "active", "title": "Port throughput", "type": "dataset",
		"url": "https://port.example.org/statistics", "version": "2.1",
		"extras": []any{
			map[string]any{"key": "update_frequency", "value": "monthly"},
			map[string]any{"key": "spatial", "value": `{"type": "Point", "coordinates": [121.5, 31.2]}`},
		},
		"groups": []any{map[string]any{"description": "", "display_name": "Transport", "id": "g1",
			"image_display_url": "", "name": "transport", "title": "Transport"}},
		"resources": []any{
			map[string]any{"cache_last_updated": nil, "created": "2021-03-04T10:21:00.000000", "datastore_active": false,
				"description": "", "format": "CSV", "hash": "", "id": "r1", "last_modified": nil, "mimetype": "text/csv",
				"name": "Throughput 2023", "package_id": "5b7c2d1e-8f3a-4c6b-9d0e-1a2b3c4d5e6f", "position": 0,
				"size": 20480, "state": "active", "url": "https://port.example.org/throughput-2023.csv", "url_type": nil},
			map[string]any{"format": "JSON", "id": "r2", "mimetype": nil, "name": "API", "position": 1, "size": nil,
				"state": "active", "url": "https://port.example.org/api/throughput"},
		},
		"tags": []any{
			map[string]any{"display_name": "containers", "id": "t1", "name": "containers", "state": "active", "vocabulary_id": nil},
			map[string]any{"display_name": "shipping", "id": "t2", "name": "shipping", "state": "active", "vocabulary_id": nil},
		},
		"relationships_as_object": []any{}, "relationships_as_subject": []any{},
	}
}

// chinesePackage has a Chinese title and notes and fluent-style translations.
func chinesePackage() map[string]any {
	return map[string]any{
		"id": "c0ffee00-0000-4000-8000-000000000001", "name": "shanghai-port-teu", "state": "active", "type": "dataset",
		"title":            "上海港集装箱吞吐量",
		"title_translated": map[string]any{"en": "Shanghai port container throughput", "zh_CN": "上海港集装箱吞吐量（月度）"},
		"notes":            "按月统计的集装箱吞吐量。",
		"metadata_created": "2022-05-06T01:02:03", "metadata_modified": "2022-05-06T01:02:03",
		"license_id": "", "license_title": "", "license_url": "https://data.example.cn/licence",
		"organization": map[string]any{"name": "sipg", "title": ""},
		"frequency":    "每月",
		"tags":         []any{map[string]any{"name": "", "display_name": "港口"}},
		"resources":    []any{}, "extras": []any{}, "groups": []any{},
	}
}

type result struct {
	records  []harvest.Record
	problems []harvest.Problem
	err      error
}

func read(t testing.TB, c *ckan.Connector) result {
	t.Helper()
	var res result
	res.err = c.Read(context.Background(), func(r harvest.Record) error {
		res.records = append(res.records, r)
		return nil
	}, func(p harvest.Problem) { res.problems = append(res.problems, p) })
	return res
}

func TestMapsEveryField(t *testing.T) {
	p := &portal{t: t, count: 2, pkg: func(i int) map[string]any { return []map[string]any{fullPackage(), chinesePackage()}[i] }}
	srv := httptest.NewServer(p)
	defer srv.Close()
	res := read(t, ckan.New(srv.URL+"/", ckan.Options{}))
	if res.err != nil || len(res.problems) != 0 || len(res.records) != 2 {
		t.Fatalf("err %v, problems %v, %d records", res.err, res.problems, len(res.records))
	}
	want := harvest.Record{
		ID:              "5b7c2d1e-8f3a-4c6b-9d0e-1a2b3c4d5e6f",
		Ref:             srv.URL + "/dataset/port-throughput",
		Title:           dataport.Bilingual{En: "Port throughput"},
		Description:     dataport.Bilingual{En: "Monthly container throughput of the port, in TEU."},
		Publisher:       "Port Authority",
		Contact:         "opendata@port.example.org",
		Homepage:        "https://port.example.org/statistics",
		Keywords:        []string{"containers", "shipping"},
		Categories:      []string{"Transport"},
		License:         "cc-by",
		Issued:          time.Date(2021, 3, 4, 10, 20, 30, 123456000, time.UTC),
		Modified:        time.Date(2024, 1, 15, 8, 0, 0, 1000, time.UTC),
		UpdateFrequency: "monthly",
		Distributions: []harvest.Distribution{
			{Title: "Throughput 2023", URL: "https://port.example.org/throughput-2023.csv", Format: "CSV", MediaType: "text/csv", Size: 20480},
			{Title: "API", URL: "https://port.example.org/api/throughput", Format: "JSON"},
		},
		Extra: map[string]any{
			"name": "port-throughput", "version": "2.1", "author": "Statistics Office", "maintainer": "Open Data Team",
			"update_frequency": "monthly", "spatial": `{"type": "Point", "coordinates": [121.5, 31.2]}`,
		},
	}
	if got := res.records[0]; !reflect.DeepEqual(got, want) {
		t.Errorf("record:\n got %+v\nwant %+v", got, want)
	}
	zh := res.records[1]
	if zh.Title != (dataport.Bilingual{Zh: "上海港集装箱吞吐量（月度）", En: "Shanghai port container throughput"}) ||
		zh.Description != (dataport.Bilingual{Zh: "按月统计的集装箱吞吐量。"}) ||
		zh.Publisher != "sipg" || zh.License != "https://data.example.cn/licence" || zh.UpdateFrequency != "每月" ||
		!reflect.DeepEqual(zh.Keywords, []string{"港口"}) || zh.Contact != "" || zh.Distributions != nil ||
		!zh.Issued.Equal(time.Date(2022, 5, 6, 1, 2, 3, 0, time.UTC)) {
		t.Errorf("Chinese record: %+v", zh)
	}
	if q := p.queries[0]; !strings.Contains(q, "rows=100") || !strings.Contains(q, "start=0") ||
		!strings.Contains(q, "sort=metadata_created+asc%2C+id+asc") || strings.Contains(q, "q=") {
		t.Errorf("query %s", q)
	}
}

func TestQueryAndPageSize(t *testing.T) {
	p := &portal{t: t, count: 0, pkg: nil}
	srv := httptest.NewServer(p)
	defer srv.Close()
	res := read(t, ckan.New(srv.URL, ckan.Options{PageSize: 5000, Query: "port", FilterQuery: `organization:"port-authority"`}))
	if res.err != nil || len(res.records) != 0 || len(p.queries) != 1 {
		t.Fatalf("%+v, %d requests", res, len(p.queries))
	}
	if q := p.queries[0]; !strings.Contains(q, "rows=1000") || !strings.Contains(q, "q=port") ||
		!strings.Contains(q, "fq=organization%3A%22port-authority%22") {
		t.Errorf("query %s", q)
	}
}

// hang holds the response until the client gives up.
func hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(5 * time.Second):
	}
}

func TestPagingRetriesAndProblems(t *testing.T) {
	// 14 packages, 2 a page: pages start at 0, 2, 4, …, 12.
	p := &portal{t: t, count: 14}
	p.pkg = func(i int) map[string]any {
		m := map[string]any{"id": fmt.Sprintf("p%02d", i), "name": fmt.Sprintf("n%02d", i), "title": fmt.Sprintf("Dataset %d", i),
			"metadata_created": "2020-01-01T00:00:00", "metadata_modified": "2020-01-01T00:00:00"}
		switch i {
		case 12:
			m["title"] = "" // no title
		case 13:
			m["id"] = "p01" // listed again on a later page
		}
		return m
	}
	p.fault = func(w http.ResponseWriter, r *http.Request, start, attempt int) bool {
		switch {
		case start == 2 && attempt == 1:
			http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		case start == 4: // hangs past the client's timeout, every time
			hang(r)
		case start == 6 && attempt == 1: // a body cut short
			w.Write([]byte(`{"help": "", "success": true, "result": {"count": 14, "results": [{"id": "p06", "ti`))
		case start == 8: // fails every time
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte("<html>502 Bad Gateway</html>"))
		case start == 10 && attempt == 1:
			hang(r)
		default:
			return false
		}
		return true
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	c := ckan.New(srv.URL, ckan.Options{PageSize: 2, Retries: 2, Backoff: time.Millisecond,
		Client: &http.Client{Timeout: 300 * time.Millisecond}})
	res := read(t, c)
	if res.err != nil {
		t.Fatal(res.err)
	}
	var ids []string
	for _, r := range res.records {
		ids = append(ids, r.ID)
	}
	if want := "p00 p01 p02 p03 p06 p07 p10 p11"; strings.Join(ids, " ") != want {
		t.Errorf("records %v, want %s", ids, want)
	}
	if len(res.problems) != 4 {
		t.Fatalf("problems: %+v", res.problems)
	}
	hung, failed, untitled, dup := res.problems[0], res.problems[1], res.problems[2], res.problems[3]
	if hung.Ref != c.PageURL(4) || hung.ID != "" || !strings.Contains(hung.Reason, "Client.Timeout") || !strings.Contains(hung.Reason, "3 attempts") {
		t.Errorf("hung page: %+v", hung)
	}
	if failed.Ref != c.PageURL(8) || !strings.Contains(failed.Reason, "HTTP 502") {
		t.Errorf("failed page: %+v", failed)
	}
	if untitled.ID != "p12" || untitled.Field != "title" || untitled.Ref != srv.URL+"/dataset/n12" {
		t.Errorf("untitled: %+v", untitled)
	}
	if dup.ID != "p01" || dup.Field != "id" || dup.Ref != c.PageURL(12) || !strings.Contains(dup.Reason, "earlier page") {
		t.Errorf("duplicate: %+v", dup)
	}
	for start, want := range map[int]int{0: 1, 2: 2, 4: 3, 6: 2, 8: 3, 10: 2, 12: 1} {
		if got := p.attemptsAt(start); got != want {
			t.Errorf("page %d: %d attempts, want %d", start, got, want)
		}
	}
}

func TestFirstPageFails(t *testing.T) {
	for name, tc := range map[string]struct {
		fault func(w http.ResponseWriter)
		kind  dataport.Kind
		text  string
		tries int
	}{
		"unavailable": {func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) }, dataport.KindUnavailable, "HTTP 503", 3},
		"search error": {func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"help": "…", "success": false, "error": {"__type": "Search Query Error", "message": "Search Query is invalid: \"Invalid search parameters: ['sort']\""}}`))
		}, dataport.KindInvalid, "Search Query Error: Search Query is invalid", 1},
		"success false": {func(w http.ResponseWriter) {
			w.Write([]byte(`{"help": "…", "success": false, "error": {"__type": "Authorization Error", "message": "Access denied"}}`))
		}, dataport.KindInvalid, "CKAN error Authorization Error: Access denied", 1},
		"not CKAN": {func(w http.ResponseWriter) { w.Write([]byte(`{"datasets": []}`)) }, dataport.KindInvalid, "not a CKAN Action API response", 3},
		"html":     {func(w http.ResponseWriter) { w.Write([]byte(`<!doctype html><title>Portal</title>`)) }, dataport.KindInvalid, "invalid character '<'", 3},
	} {
		t.Run(name, func(t *testing.T) {
			p := &portal{t: t, count: 5, pkg: func(i int) map[string]any { return map[string]any{"id": "x", "title": "x"} }}
			p.fault = func(w http.ResponseWriter, r *http.Request, start, attempt int) bool { tc.fault(w); return true }
			srv := httptest.NewServer(p)
			defer srv.Close()
			res := read(t, ckan.New(srv.URL, ckan.Options{Retries: 2, Backoff: time.Millisecond}))
			if res.err == nil || len(res.records) != 0 || len(res.problems) != 0 {
				t.Fatalf("%+v", res)
			}
			if dataport.KindOf(res.err) != tc.kind || !strings.Contains(res.err.Error(), tc.text) || !strings.Contains(res.err.Error(), "first page") {
				t.Errorf("err %v (%s)", res.err, dataport.KindOf(res.err))
			}
			if got := p.attemptsAt(0); got != tc.tries {
				t.Errorf("%d attempts, want %d", got, tc.tries)
			}
		})
	}
}

// TestRowsCapped reads a portal whose ckan.search.rows_max is below the page size
// asked for: CKAN then returns fewer rows without saying so.
func TestRowsCapped(t *testing.T) {
	p := &portal{t: t, count: 11, pkg: func(i int) map[string]any { return map[string]any{"id": strconv.Itoa(i), "title": "t"} }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if rows, _ := strconv.Atoi(q.Get("rows")); rows > 3 {
			q.Set("rows", "3")
			r.URL.RawQuery = q.Encode()
		}
		p.ServeHTTP(w, r)
	}))
	defer srv.Close()
	res := read(t, ckan.New(srv.URL, ckan.Options{PageSize: 5}))
	if res.err != nil || len(res.problems) != 0 || len(res.records) != 11 {
		t.Fatalf("err %v, problems %v, %d records", res.err, res.problems, len(res.records))
	}
	for i, r := range res.records {
		if r.ID != strconv.Itoa(i) {
			t.Fatalf("record %d is %s", i, r.ID)
		}
	}
}

func TestPortalGoesAwayMidRun(t *testing.T) {
	p := &portal{t: t, count: 100, pkg: func(i int) map[string]any { return map[string]any{"id": strconv.Itoa(i), "title": "t"} }}
	p.fault = func(w http.ResponseWriter, r *http.Request, start, attempt int) bool {
		if start >= 20 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	res := read(t, ckan.New(srv.URL, ckan.Options{PageSize: 10, Retries: -1}))
	if res.err == nil || dataport.KindOf(res.err) != dataport.KindUnavailable || !strings.Contains(res.err.Error(), "3 pages in a row") {
		t.Fatalf("err %v", res.err)
	}
	if len(res.records) != 20 || len(res.problems) != 2 {
		t.Errorf("%d records, problems %+v", len(res.records), res.problems)
	}
}

func TestMalformedPackages(t *testing.T) {
	p := &portal{t: t, count: 4, pkg: func(i int) map[string]any {
		return []map[string]any{
			{"title": "no id", "name": "orphan"},
			{"id": "bad-time", "title": "t", "metadata_created": "04/03/2021"},
			{"id": "bad-size", "title": "t", "resources": []any{map[string]any{"url": "u", "size": "1.2 MB"}}},
			{"id": "bad-type", "title": []any{"not", "a", "string"}},
		}[i]
	}}
	srv := httptest.NewServer(p)
	defer srv.Close()
	res := read(t, ckan.New(srv.URL, ckan.Options{}))
	if res.err != nil || len(res.records) != 0 || len(res.problems) != 4 {
		t.Fatalf("%+v", res)
	}
	for i, want := range []harvest.Problem{
		{ID: "", Field: "id", Reason: `package #1 on the page (name "orphan") has no id`},
		{ID: "bad-time", Field: "metadata_created", Reason: `"04/03/2021" is not an ISO 8601 timestamp`},
		{ID: "bad-size", Field: "resources[0].size", Reason: `size "1.2 MB" is not a whole number of bytes`},
		{ID: "bad-type", Field: "", Reason: "package #4 on the page is malformed: cannot unmarshal array into Go struct field pkg.title of type string"},
	} {
		got := res.problems[i]
		got.Ref = ""
		if got != want {
			t.Errorf("problem %d:\n got %+v\nwant %+v", i, got, want)
		}
	}
}

func TestYieldErrorStops(t *testing.T) {
	p := &portal{t: t, count: 5, pkg: func(i int) map[string]any { return map[string]any{"id": strconv.Itoa(i), "title": "t"} }}
	srv := httptest.NewServer(p)
	defer srv.Close()
	stop := fmt.Errorf("store full")
	n := 0
	err := ckan.New(srv.URL, ckan.Options{PageSize: 2}).Read(context.Background(), func(harvest.Record) error {
		n++
		return stop
	}, func(harvest.Problem) {})
	if err != stop || n != 1 {
		t.Fatalf("err %v after %d", err, n)
	}
}
