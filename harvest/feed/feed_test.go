package feed_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/harvest"
	"github.com/dataport/dataport/harvest/feed"
)

type result struct {
	records  []harvest.Record
	problems []harvest.Problem
	err      error
}

func read(t testing.TB, c harvest.Connector) result {
	t.Helper()
	var res result
	res.err = c.Read(context.Background(), func(r harvest.Record) error {
		res.records = append(res.records, r)
		return nil
	}, func(p harvest.Problem) { res.problems = append(res.problems, p) })
	return res
}

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// px001 is the first example of the package documentation, every field set.
func px001(ref string) harvest.Record {
	return harvest.Record{
		ID: "PX-001", Ref: ref,
		Title:           dataport.Bilingual{Zh: "上海港集装箱吞吐量", En: "Shanghai port container throughput"},
		Summary:         dataport.Bilingual{Zh: "按码头统计的月度吞吐量", En: "Monthly TEU by terminal"},
		Description:     dataport.Bilingual{Zh: "详细说明", En: "Long description, with a comma"},
		Publisher:       "Example Port Group",
		Contact:         "opendata@port.example.com",
		Homepage:        "https://port.example.com/teu",
		Keywords:        []string{"港口", "集装箱", "shipping"},
		Categories:      []string{"transport", "trade"},
		License:         "CC-BY-4.0",
		UpdateFrequency: "monthly",
		Citation:        "Example Port Group (2024)",
		Issued:          time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC),
		Modified:        time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC),
		Deprecated:      true,
		Distributions: []harvest.Distribution{
			{URL: "https://port.example.com/teu.csv", Format: "CSV"},
			{URL: "https://port.example.com/teu.json", Format: "JSON"},
		},
		Extra: map[string]any{"region": "CN-SH"},
	}
}

const goodCSV = "\ufeffid,title_zh,title_en,summary_zh,summary_en,description_zh,description_en,publisher,contact,homepage,keywords,categories,license,update_frequency,citation,issued,modified,deprecated,distribution_urls,distribution_formats,Region\r\n" +
	`PX-001,上海港集装箱吞吐量,Shanghai port container throughput,按码头统计的月度吞吐量,Monthly TEU by terminal,详细说明,"Long description, with a comma",Example Port Group,opendata@port.example.com,https://port.example.com/teu,港口；集装箱; shipping ;港口,transport;trade,CC-BY-4.0,monthly,Example Port Group (2024),2023-01-01,2024-06-30T08:00:00+08:00,TRUE,https://port.example.com/teu.csv  https://port.example.com/teu.json,CSV;JSON,CN-SH` + "\r\n"

func TestCSVEveryField(t *testing.T) {
	p := write(t, "partner.csv", goodCSV)
	res := read(t, feed.New(p, ""))
	if res.err != nil || len(res.problems) != 0 || len(res.records) != 1 {
		t.Fatalf("%+v", res)
	}
	if want := px001(p + ":2"); !reflect.DeepEqual(res.records[0], want) {
		t.Errorf("\n got %+v\nwant %+v", res.records[0], want)
	}
}

func TestJSONLEveryField(t *testing.T) {
	doc := "\ufeff" + `{"id": "PX-001", "title_zh": "上海港集装箱吞吐量", "title_en": "Shanghai port container throughput", "summary_zh": "按码头统计的月度吞吐量", "summary_en": "Monthly TEU by terminal", "description_zh": "详细说明", "description_en": "Long description, with a comma", "publisher": "Example Port Group", "contact": "opendata@port.example.com", "homepage": "https://port.example.com/teu", "keywords": ["港口", "集装箱", " shipping ", "港口"], "categories": ["transport", "trade"], "license": "CC-BY-4.0", "update_frequency": "monthly", "citation": "Example Port Group (2024)", "issued": "2023-01-01", "modified": "2024-06-30T08:00:00+08:00", "deprecated": true, "distributions": [{"url": "https://port.example.com/teu.csv", "format": "CSV", "title": "Data", "media_type": "text/csv", "size": 20480}, {"url": "https://port.example.com/teu.json", "format": "JSON"}], "region": "CN-SH", "note": null}` + "\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/feeds/partner.ndjson" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Write([]byte(doc))
	}))
	defer srv.Close()
	u := srv.URL + "/feeds/partner.ndjson?token=abc"
	res := read(t, feed.New(u, ""))
	if res.err != nil || len(res.problems) != 0 || len(res.records) != 1 {
		t.Fatalf("%+v", res)
	}
	want := px001(srv.URL + "/feeds/partner.ndjson:1") // no token in reports
	want.Distributions[0].Title, want.Distributions[0].MediaType, want.Distributions[0].Size = "Data", "text/csv", 20480
	if !reflect.DeepEqual(res.records[0], want) {
		t.Errorf("\n got %+v\nwant %+v", res.records[0], want)
	}
	res = read(t, feed.New(srv.URL+"/feeds/gone.jsonl", ""))
	if res.err == nil || dataport.KindOf(res.err) != dataport.KindNotFound || !strings.Contains(res.err.Error(), "HTTP 404") {
		t.Errorf("missing feed: %v", res.err)
	}
}

func TestCSVProblems(t *testing.T) {
	doc := strings.Join([]string{
		"id,title_en,title_zh,issued,contact,homepage,distribution_urls,distribution_formats",       // 1
		"A1,Good one,,2024-01-01,a@example.com,https://example.com/a,https://example.com/a.csv,CSV", // 2
		",No id,,,,,,",                // 3
		"A3,,,,,,,",                   // 4: no title
		"A4,Bad date,,01/02/2024,,,,", // 5
		"A5,Too few fields,",          // 6
		`A6,"Multi`,                   // 7
		`line title",,,,,,`,           // 8
		"A1,Again,,,,,,",              // 9: duplicate
		"A7,Bad bits,,,not-a-contact,example.com/x,ftp//nohost,CSV;JSON",            // 10
		"A8,Local time,,2024-01-01 08:00:00,,,,",                                    // 11
		"A9,\xb8\xdb\xbf\xda,,,,,,",                                                 // 12: GBK bytes
		`A10,Bad "quote,,,,,,`,                                                      // 13
		"A11,Last good,港口,2024-02-29T23:00:00-05:00,https://example.com/contact,,,", // 14
	}, "\n")
	p := write(t, "partner.csv", doc)
	res := read(t, feed.New(p, feed.CSV))
	if res.err != nil {
		t.Fatal(res.err)
	}
	var ids []string
	for _, r := range res.records {
		ids = append(ids, r.ID)
	}
	if want := []string{"A1", "A6", "A11"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("records %v, want %v", ids, want)
	}
	if res.records[1].Title.En != "Multi\nline title" || res.records[1].Ref != p+":7" || res.records[2].Ref != p+":14" ||
		!res.records[2].Issued.Equal(time.Date(2024, 3, 1, 4, 0, 0, 0, time.UTC)) {
		t.Errorf("records %+v", res.records)
	}
	want := []harvest.Problem{
		{Ref: p + ":3", Field: "id", Reason: "line 3: id: missing"},
		{Ref: p + ":4", ID: "A3", Field: "title", Reason: "line 4: title: missing: give title_zh, title_en or both"},
		{Ref: p + ":5", ID: "A4", Field: "issued", Reason: `line 5: issued: "01/02/2024" is neither an RFC 3339 date-time with a zone (2024-06-30T08:00:00+08:00) nor a date (2024-06-30)`},
		{Ref: p + ":6", ID: "A5", Field: "row", Reason: "line 6: row: 3 fields, the header has 8"},
		{Ref: p + ":9", ID: "A1", Field: "id", Reason: `line 9: id "A1" is already used on line 2; this line is left out`},
		{Ref: p + ":10", ID: "A7", Field: "distribution_formats", Reason: `line 10: distribution_formats: 2 formats for 1 distribution_urls; contact: "not-a-contact" is neither an e-mail address nor an absolute URL; homepage: "example.com/x" is not an absolute http(s) URL; distributions[0].url: "ftp//nohost" is not an absolute URL`},
		{Ref: p + ":11", ID: "A8", Field: "issued", Reason: `line 11: issued: "2024-01-01 08:00:00" is neither an RFC 3339 date-time with a zone (2024-06-30T08:00:00+08:00) nor a date (2024-06-30)`},
		{Ref: p + ":12", ID: "A9", Field: "title_en", Reason: "line 12: title_en: not UTF-8 text (save the feed as UTF-8, not GBK or another code page)"},
		{Ref: p + ":13", Field: "row", Reason: `line 13: row: not valid CSV: bare " in non-quoted-field`},
	}
	if len(res.problems) != len(want) {
		t.Fatalf("problems: %+v", res.problems)
	}
	for i := range want {
		if res.problems[i] != want[i] {
			t.Errorf("problem %d:\n got %+v\nwant %+v", i, res.problems[i], want[i])
		}
	}
}

func TestJSONLProblems(t *testing.T) {
	doc := strings.Join([]string{
		`{"id": "J1", "title_en": "Good", "keywords": ["a"]}`, // 1
		``,                                   // 2: blank, skipped
		`{"id": "J2", "title_en": "Broken",`, // 3
		`["not", "an", "object"]`,            // 4
		`{"id": "J3", "title_zh": "标题", "keywords": "a;b", "deprecated": "yes"}`,                                                // 5
		`{"id": "J4", "title_en": "Dist", "distributions": [{"url": "/relative"}, {"url": "https://x.example/d", "size": -1}]}`, // 6
		`{"id": "J5", "title_en": "CSV names", "distribution_urls": "https://x.example/d"}`,                                     // 7
		`{"id": "J1", "title_en": "Again"}`,                                  // 8
		`{"title_en": "No id", "modified": "2024-13-01"}`,                    // 9
		`{"id": 6, "title_en": "Numeric id"}`,                                // 10
		"{\"id\": \"J7\", \"title_en\": \"\xff\"}",                           // 11
		`{"id": "J8", "title_zh": "最后一行", "issued": "2024-05-06T07:08:09Z"}`, // 12, no newline at the end
	}, "\r\n")
	p := write(t, "partner.jsonl", doc)
	res := read(t, feed.New(p, ""))
	if res.err != nil {
		t.Fatal(res.err)
	}
	if len(res.records) != 2 || res.records[0].ID != "J1" || res.records[1].ID != "J8" || res.records[1].Ref != p+":12" {
		t.Fatalf("records %+v", res.records)
	}
	want := []harvest.Problem{
		{Ref: p + ":3", Field: "line", Reason: "line 3: line: not valid JSON: unexpected end of JSON input"},
		{Ref: p + ":4", Field: "line", Reason: "line 4: line: not a JSON object"},
		{Ref: p + ":5", ID: "J3", Field: "deprecated", Reason: "line 5: deprecated: must be true or false; keywords: must be an array of strings"},
		{Ref: p + ":6", ID: "J4", Field: "distributions[1].size", Reason: `line 6: distributions[1].size: -1 is negative; distributions[0].url: "/relative" is not an absolute URL`},
		{Ref: p + ":7", ID: "J5", Field: "distribution_urls", Reason: "line 7: distribution_urls: is a CSV column: in JSON Lines, give distributions, an array of objects"},
		{Ref: p + ":8", ID: "J1", Field: "id", Reason: `line 8: id "J1" is already used on line 1; this line is left out`},
		{Ref: p + ":9", Field: "id", Reason: `line 9: id: missing; modified: "2024-13-01" is neither an RFC 3339 date-time with a zone (2024-06-30T08:00:00+08:00) nor a date (2024-06-30)`},
		{Ref: p + ":10", Field: "id", Reason: "line 10: id: must be a string"},
		{Ref: p + ":11", Field: "line", Reason: "line 11: line: not UTF-8 text (save the feed as UTF-8, not GBK or another code page)"},
	}
	if len(res.problems) != len(want) {
		t.Fatalf("problems: %+v", res.problems)
	}
	for i := range want {
		if res.problems[i] != want[i] {
			t.Errorf("problem %d:\n got %+v\nwant %+v", i, res.problems[i], want[i])
		}
	}
}

func TestFeedErrors(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		source string
		format feed.Format
		kind   dataport.Kind
		text   string
	}{
		"missing file":   {filepath.Join(dir, "nope.csv"), "", dataport.KindNotFound, "cannot be opened"},
		"unknown format": {write(t, "feed.xlsx", "x"), "", dataport.KindInvalid, `unknown format ""`},
		"empty":          {write(t, "empty.csv", ""), "", dataport.KindInvalid, "is empty"},
		"no id column":   {write(t, "noid.csv", "title_en,publisher\nA,B\n"), "", dataport.KindInvalid, "the header must name id and title_zh or title_en"},
		"no title":       {write(t, "notitle.csv", "id,publisher\nA,B\n"), "", dataport.KindInvalid, "the header must name id and title_zh or title_en"},
		"twice":          {write(t, "twice.csv", "id,title_en,ID\n"), "", dataport.KindInvalid, `header names "id" twice`},
		"unnamed":        {write(t, "unnamed.csv", "id,title_en,\n"), "", dataport.KindInvalid, "header column 3 has no name"},
	} {
		t.Run(name, func(t *testing.T) {
			res := read(t, feed.New(tc.source, tc.format))
			if res.err == nil || dataport.KindOf(res.err) != tc.kind || !strings.Contains(res.err.Error(), tc.text) {
				t.Errorf("err %v (%s)", res.err, dataport.KindOf(res.err))
			}
		})
	}
}

func TestBrokenConnection(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000")
		w.Write([]byte("{\"id\": \"a\", \"title_en\": \"A\"}\n{\"id\": \"b\""))
	}))
	defer srv.Close()
	res := read(t, feed.New(srv.URL+"/f.jsonl", ""))
	if res.err == nil || dataport.KindOf(res.err) != dataport.KindUnavailable || !strings.Contains(res.err.Error(), "could not be read to its end") {
		t.Fatalf("%+v", res)
	}
}

// TestDocumentedExamples reads the examples of the package documentation, the
// reference partners follow, and checks that they are good feeds.
func TestDocumentedExamples(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var csvLines, jsonLines []string
	for _, l := range strings.Split(string(src), "\n") {
		l, ok := strings.CutPrefix(l, "//\t")
		switch {
		case !ok:
		case strings.HasPrefix(l, "id,") || strings.HasPrefix(l, "PX-"):
			csvLines = append(csvLines, l)
		case strings.HasPrefix(l, "{"):
			jsonLines = append(jsonLines, l)
		}
	}
	for name, doc := range map[string]string{"example.csv": strings.Join(csvLines, "\n"), "example.jsonl": strings.Join(jsonLines, "\n")} {
		res := read(t, feed.New(write(t, name, doc), ""))
		if res.err != nil || len(res.problems) != 0 || len(res.records) != 2 {
			t.Errorf("%s: %+v", name, res)
			continue
		}
		if r := res.records[0]; r.ID != "PX-001" || r.Title.Zh != "上海港集装箱吞吐量" || len(r.Keywords) < 2 || len(r.Distributions) == 0 || r.Issued.IsZero() {
			t.Errorf("%s: %+v", name, r)
		}
		if r := res.records[1]; r.ID != "PX-002" || r.Title.En != "Berth occupancy, hourly" || r.Contact != "https://port.example.com/contact" {
			t.Errorf("%s: %+v", name, r)
		}
	}
}
