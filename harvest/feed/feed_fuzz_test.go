package feed_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/harvest"
	"github.com/dataport/dataport/harvest/feed"
)

// A partner's feed of any bytes, CSV or JSON Lines, reads as records and problems
// or fails as a whole as invalid (a header it cannot use), never a panic. Every
// record has a title, an id no earlier record has, and a reference to its line; it
// encodes as JSON. Every problem says where and why.
func FuzzRead(f *testing.F) {
	header := "id,title_zh,title_en,summary_zh,summary_en,description_zh,description_en,publisher,contact,homepage,keywords,categories,license,update_frequency,citation,issued,modified,deprecated,distribution_urls,distribution_formats,region\r\n"
	f.Add(false, []byte(header+`PX-001,上海港集装箱吞吐量,Shanghai port container throughput,按码头统计的月度吞吐量,Monthly TEU by terminal,详细说明,"Long description, with a comma",Example Port Group,opendata@port.example.com,https://port.example.com/teu,港口；集装箱; shipping ;港口,transport;trade,CC-BY-4.0,monthly,Example Port Group (2024),2023-01-01,2024-06-30T08:00:00+08:00,TRUE,https://port.example.com/teu.csv  https://port.example.com/teu.json,CSV;JSON,CN-SH`+"\r\n"))
	f.Add(false, []byte("id,title_en,issued,contact,homepage,distribution_urls,distribution_formats\nA1,One,2024-01-01,a@b.example,https://x.example,,\nA1,Again,,,,,\nA4,Four,01/02/2024,,,,\nA5,Five\n\"A6\",\"Multi\nline title\",,,,,\nA7,Seven,,not-a-contact,example.com/x,ftp//nohost,CSV;JSON\nA10,Bad \"quote,,,,,\n"))
	f.Add(false, []byte("\ufeffid,title_zh\nZ,\xff\xfe\n"))
	f.Add(false, []byte("id,title_en,ID\n"))
	f.Add(true, []byte("\ufeff"+`{"id": "PX-001", "title_zh": "上海港集装箱吞吐量", "title_en": "Shanghai port container throughput", "keywords": ["港口", " shipping "], "categories": ["transport"], "issued": "2023-01-01", "modified": "2024-06-30T08:00:00+08:00", "deprecated": true, "distributions": [{"url": "https://port.example.com/teu.csv", "format": "CSV", "title": "Data", "media_type": "text/csv", "size": 20480}], "region": "CN-SH", "note": null}`+"\n"))
	f.Add(true, []byte(`{"id": "J1", "title_en": "Good", "keywords": ["a"]}`+"\n\n"+`{"id": "J2", "title_en": "Broken",`+"\n"+`["not", "an", "object"]`+"\n"+
		`{"id": "J3", "title_zh": "标题", "keywords": "a;b", "deprecated": "yes"}`+"\n"+
		`{"id": "J4", "title_en": "Dist", "distributions": [{"url": "/relative"}, {"url": "https://x.example/d", "size": -1}]}`+"\n"+
		`{"id": "J1", "title_en": "Again"}`+"\r\n"+`{"id": 6, "title_en": "Numeric id"}`+"\n"+`{"id": "J8", "title_zh": "最后一行", "issued": "2024-05-06T07:08:09Z"}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, jsonl bool, data []byte) {
		name, format := "feed.csv", feed.CSV
		if jsonl {
			name, format = "feed.jsonl", feed.JSONL
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		err := feed.New(path, format).Read(context.Background(), func(r harvest.Record) error {
			switch {
			case r.ID == "" || seen[r.ID]:
				t.Fatalf("a record with the id %q, after %v", r.ID, seen)
			case strings.TrimSpace(r.Title.Zh+r.Title.En) == "":
				t.Fatalf("a record without a title: %+v", r)
			case !strings.HasPrefix(r.Ref, path+":"):
				t.Fatalf("a record from %q", r.Ref)
			}
			for _, d := range r.Distributions {
				if d.URL == "" || d.Size < 0 {
					t.Fatalf("a record with the distribution %+v", d)
				}
			}
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("a record that does not encode: %v", err)
			}
			seen[r.ID] = true
			return nil
		}, func(p harvest.Problem) {
			if !strings.HasPrefix(p.Ref, path+":") || p.Reason == "" || !utf8.ValidString(p.Reason) && utf8.Valid(data) {
				t.Fatalf("a problem that does not say where or why: %+v", p)
			}
		})
		if err != nil && dataport.KindOf(err) != dataport.KindInvalid {
			t.Fatalf("the feed failed as %v: %v", dataport.KindOf(err), err)
		}
	})
}
