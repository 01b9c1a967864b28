package dcat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/harvest"
	"github.com/dataport/dataport/harvest/dcat"
)

// pageTransport answers the catalog URL with a fixed page and every other URL with
// 404, without a network.
type pageTransport struct {
	url  string
	body []byte
}

func (p pageTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	status, body := http.StatusNotFound, []byte("not found")
	if r.URL.String() == p.url {
		status, body = http.StatusOK, p.body
	}
	return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/ld+json"}},
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: r}, nil
}

// A catalog page of any bytes is read as JSON-LD into records and problems, or
// refused with an exchange error that is not internal, never a panic (nor a fetch of
// a remote context). Every record has an id no earlier record has, a title and the
// page as its reference, and encodes as JSON; every problem says where and why.
func FuzzReadPage(f *testing.F) {
	for _, s := range []string{dcatAPPage1, dcatAPPage2, dcatAPPage3,
		`{"@context": {"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/"}, "@type": "dcat:Dataset", "@id": "urn:x", "dct:title": "X", "dct:issued": "2024-02-30", "dcat:distribution": {"dcat:byteSize": "-1"}}`,
		`{"@context": "https://example.com/unknown-context.jsonld", "@type": "Catalog"}`,
		`{"@context": {"@vocab": "http://www.w3.org/ns/dcat#"}, "@type": "Catalog", "dataset": [{"@id": "_:b0", "@type": "Dataset"}, {"@id": "_:b0", "http://purl.org/dc/terms/title": "again"}]}`,
		`[{"@id": "urn:a", "@type": ["http://www.w3.org/ns/dcat#Dataset"], "http://purl.org/dc/terms/title": [{"@value": "A", "@language": "zh"}], "http://www.w3.org/ns/dcat#distribution": [{"@id": "urn:a"}]}]`,
		`{"@context": {"x": {"@id": "http://purl.org/dc/terms/title", "@container": "@language"}}, "@type": "http://www.w3.org/ns/dcat#Dataset", "@id": "urn:l", "x": {"en": "E", "zh": "中"}}`,
		`"\ufeff"`,
	} {
		f.Add([]byte(s))
	}
	const u = "https://catalog.example/dcat"
	f.Fuzz(func(t *testing.T, page []byte) {
		c := dcat.New(u, dcat.Options{Retries: -1, Backoff: time.Millisecond, MaxPages: 2,
			Client: &http.Client{Transport: pageTransport{url: u, body: page}}})
		seen := map[string]bool{}
		err := c.Read(context.Background(), func(r harvest.Record) error {
			switch {
			case r.ID == "" || seen[r.ID]:
				t.Fatalf("a record with the id %q, after %v", r.ID, seen)
			case strings.TrimSpace(r.Title.Zh) == "" && strings.TrimSpace(r.Title.En) == "" && r.Title == (dataport.Bilingual{}):
				t.Fatalf("a record without a title: %+v", r)
			case r.Ref != u:
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
			seen[r.ID] = true
			return nil
		}, func(p harvest.Problem) {
			if p.Ref == "" || p.Reason == "" {
				t.Fatalf("a problem that does not say where or why: %+v", p)
			}
		})
		var de *dataport.Error
		if err != nil && (!errors.As(err, &de) || de.Kind == dataport.KindInternal) {
			t.Fatalf("the catalog failed with %v (%v)", err, dataport.KindOf(err))
		}
	})
}
