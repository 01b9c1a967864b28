package ckan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// A package_search response of any bytes is read as a page or refused, never a
// panic; a page has a count and one item per package it holds, each a record with
// an id, a title and a reference into the portal, or a problem that says why; and
// every record encodes as JSON.
func FuzzDecodePage(f *testing.F) {
	f.Add([]byte(`{"help": "http://portal.example/api/3/action/help_show?name=package_search", "success": true, "result": {"count": 2, "facets": {}, "results": [` +
		`{"author": "Statistics Office", "author_email": "stats@port.example.org", "id": "5b7c2d1e-8f3a-4c6b-9d0e-1a2b3c4d5e6f", "isopen": true, "license_id": "cc-by", "license_title": "Creative Commons Attribution", "maintainer_email": "opendata@port.example.org", "metadata_created": "2021-03-04T10:20:30.123456", "metadata_modified": "2024-01-15T08:00:00.000001", "name": "port-throughput", "notes": "Monthly container throughput of the port, in TEU.", "organization": {"name": "port-authority", "title": "Port Authority"}, "title": "Port throughput", "url": "https://port.example.org/statistics", "version": "2.1", "extras": [{"key": "update_frequency", "value": "monthly"}, {"key": "spatial", "value": "{\"type\": \"Point\"}"}], "groups": [{"display_name": "Transport", "name": "transport", "title": "Transport"}], "resources": [{"format": "CSV", "mimetype": "text/csv", "name": "Throughput 2023", "size": 20480, "url": "https://port.example.org/throughput-2023.csv"}, {"format": "JSON", "mimetype": null, "name": "API", "size": null, "url": "https://port.example.org/api/throughput"}], "tags": [{"display_name": "containers", "name": "containers"}]}, ` +
		`{"id": "c0ffee00-0000-4000-8000-000000000001", "name": "shanghai-port-teu", "title": "上海港集装箱吞吐量", "title_translated": {"en": "Shanghai port container throughput", "zh_CN": "上海港集装箱吞吐量（月度）"}, "notes": "按月统计的集装箱吞吐量。", "metadata_created": "2022-05-06T01:02:03", "metadata_modified": "2022-05-06T01:02:03", "license_url": "https://data.example.cn/licence", "organization": {"name": "sipg", "title": ""}, "frequency": "每月", "tags": [{"name": "", "display_name": "港口"}], "resources": [], "extras": [], "groups": []}` +
		`], "sort": "score desc", "search_facets": {}}}`))
	f.Add([]byte(`{"success": true, "result": {"count": 3, "results": [{"id": 5}, {"id": " ", "name": "x"}, {"id": "a", "title": "t", "metadata_created": "yesterday"}, {"id": "b", "title": "t", "resources": [{"size": "12 MB"}]}]}}`))
	f.Add([]byte(`{"help": "…", "success": false, "error": {"__type": "Validation Error", "rows": ["Invalid integer"]}}`))
	f.Add([]byte(`{"success": true, "result": {"results": []}}`))
	f.Add([]byte(`{"success": true, "result": {"count": 1, "results": [{"id": "a", "title": "t"}`))
	f.Add([]byte(`[]`))
	c := New("https://portal.example", Options{})
	const u = "https://portal.example/api/3/action/package_search?rows=1000&start=0"
	f.Fuzz(func(t *testing.T, data []byte) {
		pg, err := c.decode(bytes.NewReader(data), u)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("refused without a reason")
			}
			return
		}
		if pg.count < 0 || pg.n != len(pg.items) {
			t.Fatalf("a page of count %d with %d packages and %d items", pg.count, pg.n, len(pg.items))
		}
		for _, it := range pg.items {
			if it.problem != nil {
				if it.problem.Reason == "" || it.problem.Ref == "" {
					t.Fatalf("a problem that does not say where or why: %+v", it.problem)
				}
				continue
			}
			r := it.rec
			switch {
			case r.ID == "" || r.ID != strings.TrimSpace(r.ID):
				t.Fatalf("a record with the id %q", r.ID)
			case r.Title.Zh == "" && r.Title.En == "":
				t.Fatalf("a record without a title: %+v", r)
			case !strings.HasPrefix(r.Ref, c.base+"/dataset/"):
				t.Fatalf("a record from %q", r.Ref)
			}
			for _, d := range r.Distributions {
				if d.Size < 0 {
					t.Fatalf("a distribution of %d bytes", d.Size)
				}
			}
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("a record that does not encode: %v", err)
			}
		}
	})
}
