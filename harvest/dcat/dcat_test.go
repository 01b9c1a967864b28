package dcat_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/harvest"
	"github.com/dataport/dataport/harvest/dcat"
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

// site serves fixed documents by path and query; {base} in a document becomes the
// server's URL. fault may answer a request itself (attempt counts from 1).
type site struct {
	docs   map[string]string // "/catalogue?page=2" → body
	links  map[string]string // → Link header
	fault  func(w http.ResponseWriter, key string, attempt int) bool
	mu     sync.Mutex
	counts map[string]int
	srv    *httptest.Server
}

func serve(t *testing.T, s *site) *site {
	s.counts = map[string]int{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.URL.Path
		if r.URL.RawQuery != "" {
			key += "?" + r.URL.RawQuery
		}
		s.mu.Lock()
		s.counts[key]++
		n := s.counts[key]
		s.mu.Unlock()
		if s.fault != nil && s.fault(w, key, n) {
			return
		}
		doc, ok := s.docs[key]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if l := s.links[key]; l != "" {
			w.Header().Set("Link", strings.ReplaceAll(l, "{base}", s.srv.URL))
		}
		w.Header().Set("Content-Type", "application/ld+json")
		w.Write([]byte(strings.ReplaceAll(doc, "{base}", s.srv.URL)))
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// Page 1: the DCAT-AP 3 context by its URL, datasets nested in the catalogue, paged
// by a hydra:PartialCollectionView with a relative hydra:next. Shaped after the
// DCAT-AP 3.0 examples (the bee population dataset) and its JSON-LD context.
const dcatAPPage1 = `{
  "@context": ["https://semiceu.github.io/DCAT-AP/releases/3.0.0/context/dcat-ap.jsonld", {"hydra": "http://www.w3.org/ns/hydra/core#"}],
  "@id": "https://data.example.eu/catalogue",
  "@type": "Catalogue",
  "title": [{"@value": "Example national catalogue", "@language": "en"}],
  "dataset": [
    {
      "@id": "https://data.gov.gr/id/dataset/BeePopulation",
      "@type": "Dataset",
      "title": [{"@value": "Bee population", "@language": "en"}, {"@value": "蜜蜂种群", "@language": "zh-Hans"}, {"@value": "Πληθυσμός μελισσών", "@language": "el"}],
      "description": [{"@value": "A dataset about bee population in Greece", "@language": "en"}, {"@value": "关于希腊蜜蜂种群的数据集", "@language": "zh"}],
      "keyword": [{"@value": "bees", "@language": "en"}, {"@value": "蜜蜂", "@language": "zh"}, {"@value": "bees", "@language": "en-GB"}],
      "theme": ["http://publications.europa.eu/resource/authority/data-theme/AGRI", "http://publications.europa.eu/resource/authority/data-theme/ENVI"],
      "publisher": {"@id": "https://agencies.gov.gr/id/GreekEnvironmentAgency", "@type": "Agent", "name": [{"@value": "Greek Environment Agency", "@language": "en"}, {"@value": "Ελληνικός Οργανισμός Περιβάλλοντος", "@language": "el"}]},
      "contactPoint": [{"@type": "Kind", "vcard:fn": "Open data desk", "vcard:hasEmail": {"@id": "mailto:opendata@environment.gov.gr"}}],
      "landingPage": ["https://environment.gov.gr/bees"],
      "frequency": "http://publications.europa.eu/resource/authority/frequency/ANNUAL",
      "releaseDate": {"@value": "2022-03-01", "@type": "xsd:date"},
      "modificationDate": {"@value": "2023-06-30T12:00:00+03:00", "@type": "xsd:dateTime"},
      "identifier": ["bee-pop-gr"],
      "geographicalCoverage": ["http://publications.europa.eu/resource/authority/country/GRC"],
      "dct:bibliographicCitation": "Greek Environment Agency (2022). Bee population.",
      "datasetDistribution": [
        {
          "@id": "https://data.gov.gr/id/distribution/bee-csv",
          "@type": "Distribution",
          "title": [{"@value": "Bee counts 2022 (CSV)", "@language": "en"}],
          "downloadUrl": ["https://data.gov.gr/files/bees-2022.csv"],
          "accessUrl": ["https://data.gov.gr/bees"],
          "format": "http://publications.europa.eu/resource/authority/file-type/CSV",
          "mediaType": "https://www.iana.org/assignments/media-types/text/csv",
          "byteSize": "48213",
          "licence": "http://publications.europa.eu/resource/authority/licence/CC_BY_4_0"
        },
        {
          "@id": "https://data.gov.gr/id/distribution/bee-api",
          "@type": "Distribution",
          "accessUrl": ["https://api.data.gov.gr/bees"],
          "format": "http://publications.europa.eu/resource/authority/file-type/JSON"
        }
      ]
    },
    "https://data.gov.gr/id/dataset/Honey",
    {
      "@type": "Dataset",
      "title": [{"@value": "Pollinator survey", "@language": "en"}]
    },
    {
      "@type": "Dataset",
      "identifier": ["urn:gr:dataset:apiaries-2021"],
      "title": [{"@value": "养蜂场登记"}],
      "description": [{"@value": "Register of apiaries"}],
      "releaseDate": "2021"
    }
  ],
  "hydra:view": {
    "@id": "https://data.example.eu/catalogue?page=1",
    "@type": "hydra:PartialCollectionView",
    "hydra:next": {"@id": "?page=2"}
  }
}`

// Page 2: prefixes only, flat in @graph, descriptions beside their references, and
// paged by a hydra:PagedCollection whose hydra:nextPage is a plain literal, as
// ckanext-dcat writes it.
const dcatAPPage2 = `{
  "@context": {
    "dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/", "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#", "xsd": "http://www.w3.org/2001/XMLSchema#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#", "hydra": "http://www.w3.org/ns/hydra/core#"
  },
  "@graph": [
    {"@id": "{base}/catalogue?page=2", "@type": "hydra:PagedCollection", "hydra:itemsPerPage": 3, "hydra:totalItems": 8,
     "hydra:nextPage": "{base}/catalogue?page=3", "hydra:firstPage": "{base}/catalogue"},
    {"@id": "https://data.example.eu/catalogue", "@type": "dcat:Catalog",
     "dcat:dataset": [{"@id": "https://data.example.eu/dataset/port-calls"}, {"@id": "https://data.gov.gr/id/dataset/BeePopulation"}, {"@id": "https://data.example.eu/dataset/bad-date"}]},
    {"@id": "https://data.example.eu/dataset/port-calls", "@type": "dcat:Dataset",
     "dct:title": [{"@value": "Port calls", "@language": "en"}, {"@value": "港口挂靠", "@language": "zh-CN"}],
     "dct:publisher": {"@id": "https://data.example.eu/org/ports"},
     "dcat:contactPoint": {"@id": "_:c1"},
     "dct:license": {"@id": "https://creativecommons.org/licenses/by/4.0/"},
     "dct:accrualPeriodicity": "monthly",
     "dcat:theme": {"@id": "_:t1"},
     "dct:issued": {"@value": "2020-01-02T03:04:05", "@type": "xsd:dateTime"},
     "dcat:distribution": {"@id": "https://data.example.eu/distribution/port-calls-json"}},
    {"@id": "_:c1", "@type": "vcard:Organization", "vcard:fn": "Ports desk", "vcard:hasEmail": "ports@example.eu"},
    {"@id": "_:t1", "@type": "skos:Concept", "http://www.w3.org/2004/02/skos/core#prefLabel": {"@value": "Transport", "@language": "en"}},
    {"@id": "https://data.example.eu/org/ports", "@type": "foaf:Organization",
     "foaf:name": [{"@value": "港务局", "@language": "zh"}, {"@value": "Port Authority", "@language": "en"}]},
    {"@id": "https://data.example.eu/distribution/port-calls-json", "@type": "dcat:Distribution",
     "dcat:accessURL": {"@id": "https://api.example.eu/port-calls"}, "dcat:mediaType": "application/json",
     "dct:format": {"@type": "dct:MediaTypeOrExtent", "rdfs:label": "JSON"},
     "dcat:byteSize": {"@value": "1024.0", "@type": "xsd:decimal"}},
    {"@id": "https://data.gov.gr/id/dataset/BeePopulation", "@type": "dcat:Dataset", "dct:title": {"@value": "Bee population", "@language": "en"}},
    {"@id": "https://data.example.eu/dataset/bad-date", "@type": "dcat:Dataset",
     "dct:title": "Vessel registry", "dct:modified": "last Tuesday"}
  ]
}`

// Page 3: the last; no paging, one dataset without a title, and one read on page 2
// listed again by reference only, which is no problem.
const dcatAPPage3 = `{
  "@context": {"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/"},
  "@type": "dcat:Catalog",
  "dcat:dataset": [
    {"@id": "https://data.example.eu/dataset/untitled", "@type": "dcat:Dataset", "dct:description": "No title here"},
    {"@id": "https://data.example.eu/dataset/air", "@type": "dcat:Dataset", "dct:title": {"@value": "上海空气质量", "@language": "zh-CN"},
     "dcat:keyword": ["空气", "PM2.5"]},
    {"@id": "https://data.example.eu/dataset/port-calls"}
  ]
}`

func TestDCATAPCatalog(t *testing.T) {
	s := serve(t, &site{docs: map[string]string{
		"/catalogue": dcatAPPage1, "/catalogue?page=2": dcatAPPage2, "/catalogue?page=3": dcatAPPage3,
	}})
	base := s.srv.URL
	res := read(t, dcat.New(base+"/catalogue", dcat.Options{}))
	if res.err != nil {
		t.Fatal(res.err)
	}
	var ids []string
	for _, r := range res.records {
		ids = append(ids, r.ID)
	}
	if want := []string{"https://data.gov.gr/id/dataset/BeePopulation", "urn:gr:dataset:apiaries-2021",
		"https://data.example.eu/dataset/port-calls", "https://data.example.eu/dataset/air"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("records %v", ids)
	}
	bee := harvest.Record{
		ID:              "https://data.gov.gr/id/dataset/BeePopulation",
		Ref:             base + "/catalogue",
		Title:           dataport.Bilingual{Zh: "蜜蜂种群", En: "Bee population"},
		Description:     dataport.Bilingual{Zh: "关于希腊蜜蜂种群的数据集", En: "A dataset about bee population in Greece"},
		Publisher:       "Greek Environment Agency",
		Contact:         "opendata@environment.gov.gr",
		Homepage:        "https://environment.gov.gr/bees",
		Keywords:        []string{"bees", "蜜蜂"},
		Categories:      []string{"http://publications.europa.eu/resource/authority/data-theme/AGRI", "http://publications.europa.eu/resource/authority/data-theme/ENVI"},
		UpdateFrequency: "http://publications.europa.eu/resource/authority/frequency/ANNUAL",
		License:         "http://publications.europa.eu/resource/authority/licence/CC_BY_4_0",
		Citation:        "Greek Environment Agency (2022). Bee population.",
		Issued:          time.Date(2022, 3, 1, 0, 0, 0, 0, time.UTC),
		Modified:        time.Date(2023, 6, 30, 9, 0, 0, 0, time.UTC),
		Distributions: []harvest.Distribution{
			{Title: "Bee counts 2022 (CSV)", URL: "https://data.gov.gr/files/bees-2022.csv",
				Format: "http://publications.europa.eu/resource/authority/file-type/CSV", MediaType: "text/csv", Size: 48213},
			{URL: "https://api.data.gov.gr/bees", Format: "http://publications.europa.eu/resource/authority/file-type/JSON"},
		},
		Extra: map[string]any{"dct:identifier": "bee-pop-gr", "dct:spatial": "http://publications.europa.eu/resource/authority/country/GRC"},
	}
	if !reflect.DeepEqual(res.records[0], bee) {
		t.Errorf("DCAT-AP dataset:\n got %+v\nwant %+v", res.records[0], bee)
	}
	apiaries := res.records[1]
	if apiaries.Title != (dataport.Bilingual{Zh: "养蜂场登记"}) || apiaries.Description != (dataport.Bilingual{En: "Register of apiaries"}) ||
		!apiaries.Issued.Equal(time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("blank-node dataset with identifier: %+v", apiaries)
	}
	port := harvest.Record{
		ID: "https://data.example.eu/dataset/port-calls", Ref: base + "/catalogue?page=2",
		Title:     dataport.Bilingual{Zh: "港口挂靠", En: "Port calls"},
		Publisher: "Port Authority", Contact: "ports@example.eu",
		License: "https://creativecommons.org/licenses/by/4.0/", UpdateFrequency: "monthly",
		Categories: []string{"Transport"},
		Issued:     time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC),
		Distributions: []harvest.Distribution{
			{URL: "https://api.example.eu/port-calls", Format: "JSON", MediaType: "application/json", Size: 1024},
		},
	}
	if !reflect.DeepEqual(res.records[2], port) {
		t.Errorf("flat @graph dataset:\n got %+v\nwant %+v", res.records[2], port)
	}
	if air := res.records[3]; air.Title != (dataport.Bilingual{Zh: "上海空气质量"}) || !reflect.DeepEqual(air.Keywords, []string{"空气", "PM2.5"}) {
		t.Errorf("air: %+v", air)
	}
	want := []harvest.Problem{
		{Ref: base + "/catalogue", ID: "https://data.gov.gr/id/dataset/Honey", Field: "dcat:dataset",
			Reason: "dataset https://data.gov.gr/id/dataset/Honey is listed but not described on this page"},
		{Ref: base + "/catalogue", Field: "@id",
			Reason: `dataset #3 on the page ("Pollinator survey") is a blank node without dct:identifier: it has no stable id`},
		{Ref: base + "/catalogue?page=2", ID: "https://data.gov.gr/id/dataset/BeePopulation", Field: "@id",
			Reason: "dataset https://data.gov.gr/id/dataset/BeePopulation was already read on " + base + "/catalogue; read once"},
		{Ref: base + "/catalogue?page=2", ID: "https://data.example.eu/dataset/bad-date", Field: "dct:modified",
			Reason: `dataset #3 on the page ("Vessel registry"): dct:modified "last Tuesday" is not an xsd:dateTime, xsd:date, xsd:gYearMonth or xsd:gYear`},
		{Ref: base + "/catalogue?page=3", ID: "https://data.example.eu/dataset/untitled", Field: "dct:title",
			Reason: "dataset #1 on the page has no dct:title"},
	}
	if !reflect.DeepEqual(res.problems, want) {
		t.Errorf("problems:\n got %+v\nwant %+v", res.problems, want)
	}
}

// dataJSON is a DCAT-US 1.1 catalog (data.json, Project Open Data schema v1.1):
// datasets are blank nodes named by their identifier.
const dataJSON = `{
  "@context": "https://project-open-data.cio.gov/v1.1/schema/catalog.jsonld",
  "@id": "https://www.example.gov/data.json",
  "@type": "dcat:Catalog",
  "conformsTo": "https://project-open-data.cio.gov/v1.1/schema",
  "describedBy": "https://project-open-data.cio.gov/v1.1/schema/catalog.json",
  "dataset": [{
    "@type": "dcat:Dataset",
    "title": "Monthly Port Throughput",
    "description": "Container throughput by port.",
    "keyword": ["ports", "shipping"],
    "modified": "2024-02-01",
    "publisher": {"@type": "org:Organization", "name": "Maritime Administration"},
    "contactPoint": {"@type": "vcard:Contact", "fn": "Data Desk", "hasEmail": "mailto:data@example.gov"},
    "identifier": "MARAD-PORT-001",
    "accessLevel": "public",
    "license": "https://creativecommons.org/publicdomain/zero/1.0/",
    "accrualPeriodicity": "R/P1M",
    "theme": ["Transportation"],
    "landingPage": "https://www.example.gov/ports",
    "distribution": [{"@type": "dcat:Distribution", "downloadURL": "https://www.example.gov/ports.csv", "mediaType": "text/csv", "format": "CSV", "title": "Throughput"}]
  }]
}`

func TestDCATUS(t *testing.T) {
	s := serve(t, &site{docs: map[string]string{"/data.json": dataJSON}})
	res := read(t, dcat.New(s.srv.URL+"/data.json", dcat.Options{}))
	if res.err != nil || len(res.problems) != 0 || len(res.records) != 1 {
		t.Fatalf("%+v", res)
	}
	r := res.records[0]
	want := harvest.Record{
		ID: "MARAD-PORT-001", Ref: s.srv.URL + "/data.json",
		Title: dataport.Bilingual{En: "Monthly Port Throughput"}, Description: dataport.Bilingual{En: "Container throughput by port."},
		Publisher: "Maritime Administration", Contact: "data@example.gov", Homepage: "https://www.example.gov/ports",
		Keywords: []string{"ports", "shipping"}, Categories: []string{"Transportation"},
		UpdateFrequency: "R/P1M", License: "https://creativecommons.org/publicdomain/zero/1.0/",
		Modified:      time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC),
		Distributions: []harvest.Distribution{{Title: "Throughput", URL: "https://www.example.gov/ports.csv", Format: "CSV", MediaType: "text/csv"}},
		Extra:         map[string]any{"dct:identifier": "MARAD-PORT-001", "https://project-open-data.cio.gov/v1.1/schema#accessLevel": "public"},
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("\n got %+v\nwant %+v", r, want)
	}
}

func TestRemoteContexts(t *testing.T) {
	doc := `{"@context": "https://partner.example.org/ns/catalog-context.jsonld", "@type": "Catalog",
		"datasets": [{"@id": "https://partner.example.org/d/1", "@type": "Dataset", "name": "Tide gauges"}]}`
	s := serve(t, &site{docs: map[string]string{"/c": doc}})
	res := read(t, dcat.New(s.srv.URL+"/c", dcat.Options{}))
	if res.err == nil || dataport.KindOf(res.err) != dataport.KindInvalid ||
		!strings.Contains(res.err.Error(), "remote context https://partner.example.org/ns/catalog-context.jsonld is not one the harvester has a copy of") {
		t.Fatalf("err %v", res.err)
	}
	res = read(t, dcat.New(s.srv.URL+"/c", dcat.Options{Contexts: map[string]any{
		"https://partner.example.org/ns/catalog-context.jsonld": map[string]any{"@context": map[string]any{
			"Catalog": "http://www.w3.org/ns/dcat#Catalog", "Dataset": "http://www.w3.org/ns/dcat#Dataset",
			"datasets": "http://www.w3.org/ns/dcat#dataset", "name": "http://purl.org/dc/terms/title",
		}},
	}}))
	if res.err != nil || len(res.records) != 1 || res.records[0].Title.En != "Tide gauges" {
		t.Fatalf("%+v", res)
	}
}

func TestLinkPagingRetriesAndFailures(t *testing.T) {
	page := func(n int) string {
		return fmt.Sprintf(`{"@context": {"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/"},
			"@type": "dcat:Catalog", "dcat:dataset": {"@id": "urn:d:%d", "@type": "dcat:Dataset", "dct:title": "D%d"}}`, n, n)
	}
	docs := map[string]string{"/c": page(1), "/c?p=2": page(2), "/c?p=3": page(3)}
	links := map[string]string{"/c": `<{base}/c?p=2>; rel="next", <{base}/c?p=3>; rel="last"`, "/c?p=2": `</c?p=3>; rel="next"`}

	t.Run("retried", func(t *testing.T) {
		s := serve(t, &site{docs: docs, links: links, fault: func(w http.ResponseWriter, key string, attempt int) bool {
			if key == "/c?p=2" && attempt == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}
			return false
		}})
		res := read(t, dcat.New(s.srv.URL+"/c", dcat.Options{Backoff: time.Millisecond}))
		if res.err != nil || len(res.records) != 3 || len(res.problems) != 0 || res.records[2].ID != "urn:d:3" {
			t.Fatalf("%+v", res)
		}
	})
	t.Run("first page down", func(t *testing.T) {
		s := serve(t, &site{docs: docs, links: links, fault: func(w http.ResponseWriter, key string, attempt int) bool {
			w.WriteHeader(http.StatusBadGateway)
			return true
		}})
		res := read(t, dcat.New(s.srv.URL+"/c", dcat.Options{Retries: 2, Backoff: time.Millisecond}))
		if res.err == nil || dataport.KindOf(res.err) != dataport.KindUnavailable || !strings.Contains(res.err.Error(), "first page") ||
			!strings.Contains(res.err.Error(), "HTTP 502") || s.counts["/c"] != 3 {
			t.Fatalf("%+v, %d attempts", res, s.counts["/c"])
		}
	})
	t.Run("later page hangs", func(t *testing.T) {
		s := serve(t, &site{docs: docs, links: links, fault: func(w http.ResponseWriter, key string, attempt int) bool {
			if key == "/c?p=2" {
				time.Sleep(500 * time.Millisecond)
			}
			return false
		}})
		res := read(t, dcat.New(s.srv.URL+"/c", dcat.Options{Retries: 1, Backoff: time.Millisecond, Client: &http.Client{Timeout: 100 * time.Millisecond}}))
		if res.err == nil || !strings.Contains(res.err.Error(), "page 2") || !strings.Contains(res.err.Error(), "out of reach") ||
			!strings.Contains(res.err.Error(), "Client.Timeout") || len(res.records) != 1 {
			t.Fatalf("%+v", res)
		}
	})
	t.Run("loop", func(t *testing.T) {
		s := serve(t, &site{docs: docs, links: map[string]string{"/c": `<{base}/c?p=2>; rel="next"`, "/c?p=2": `<{base}/c>; rel="next"`}})
		res := read(t, dcat.New(s.srv.URL+"/c", dcat.Options{}))
		if res.err != nil || len(res.records) != 2 || len(res.problems) != 1 || !strings.Contains(res.problems[0].Reason, "paging loops") {
			t.Fatalf("%+v", res)
		}
	})
	t.Run("not DCAT", func(t *testing.T) {
		s := serve(t, &site{docs: map[string]string{"/c": `{"help": "…", "success": true, "result": {"count": 0, "results": []}}`, "/html": "<html></html>"}})
		res := read(t, dcat.New(s.srv.URL+"/c", dcat.Options{}))
		if res.err == nil || dataport.KindOf(res.err) != dataport.KindInvalid || !strings.Contains(res.err.Error(), "no dcat:Catalog and no dcat:Dataset") {
			t.Fatalf("%+v", res)
		}
		res = read(t, dcat.New(s.srv.URL+"/html", dcat.Options{Retries: -1}))
		if res.err == nil || dataport.KindOf(res.err) != dataport.KindInvalid || !strings.Contains(res.err.Error(), "not JSON-LD") {
			t.Fatalf("%+v", res)
		}
	})
	t.Run("empty catalog", func(t *testing.T) {
		s := serve(t, &site{docs: map[string]string{"/c": `{"@context": {"dcat": "http://www.w3.org/ns/dcat#"}, "@type": "dcat:Catalog"}`}})
		res := read(t, dcat.New(s.srv.URL+"/c", dcat.Options{}))
		if res.err != nil || len(res.records) != 0 || len(res.problems) != 0 {
			t.Fatalf("%+v", res)
		}
	})
}
