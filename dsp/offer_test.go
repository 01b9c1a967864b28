package dsp_test

import (
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/dsp"
)

func TestOfferIDsResolve(t *testing.T) {
	id := dsp.OfferID("prd_01abc", 3, 1)
	if id != "urn:dataport:offer:prd_01abc:3:1" {
		t.Fatalf("OfferID %q", id)
	}
	p, rev, plan, err := dsp.ParseOfferID(id)
	if err != nil || p != "prd_01abc" || rev != 3 || plan != 1 {
		t.Fatalf("ParseOfferID: %q %d %d %v", p, rev, plan, err)
	}
	for _, bad := range []string{"", "urn:dataport:offer:", "urn:dataport:offer:prd:3", "urn:dataport:offer:prd:0:1",
		"urn:dataport:offer:prd:3:-1", "urn:dataport:offer:prd:3:01", "urn:dataport:offer::3:1", "urn:dataport:deal:x:3:1",
		"urn:dataport:offer:prd:3:1:2", "urn:dataport:offer:prd:+3:1"} {
		if _, _, _, err := dsp.ParseOfferID(bad); dataport.KindOf(err) != dataport.KindInvalid {
			t.Errorf("ParseOfferID(%q): %v", bad, err)
		}
	}
}

func TestFormatsAreDeliveryModes(t *testing.T) {
	for _, mode := range []string{"file", "api", "privacy_computing", "sandbox", "model_output"} {
		if got, ok := dsp.DeliveryModeOf(dsp.FormatOf(mode)); !ok || got != mode {
			t.Errorf("%s → %s → %s %v", mode, dsp.FormatOf(mode), got, ok)
		}
	}
	for _, f := range []string{"dataport-file", "dataport-", "HttpData-PUSH"} {
		if m, ok := dsp.DeliveryModeOf(f); ok {
			t.Errorf("DeliveryModeOf(%q) = %q", f, m)
		}
	}
}

func product(plans ...catalog.PricePlan) catalog.Product {
	return catalog.Product{ID: "prd_1", SupplierID: "prt_s", AgentID: "prt_a", Status: catalog.Listed, ListedRevision: 2,
		RegistrationNumber: "DP-2026-000001", RegisteredAt: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC),
		Details: catalog.Details{Type: "dataset", Title: dataport.Bilingual{Zh: "港口", En: "Ports"}, Category: "shipping",
			DeliveryModes: []string{"file"}, Scenarios: []string{"research"}, PricePlans: plans, UsagePolicy: "No resale."}}
}

// A dataset is what its schema admits, alone and as a catalog's entry, and its
// offers carry the plans' prices exactly.
func TestDatasetOfValidates(t *testing.T) {
	p := product(
		catalog.PricePlan{Kind: "one_off", Price: dataport.Money{Amount: 5, Currency: "CNY"}},
		catalog.PricePlan{Kind: "subscription", Period: "year", Price: dataport.Money{Amount: 1200, Currency: "JPY"}},
		catalog.PricePlan{Kind: "per_call", Price: dataport.Money{Amount: 1500, Currency: "KWD"}, Name: "per call"},
	)
	svc := dsp.DataService{ID: "https://x.example/dsp", EndpointURL: "https://x.example/dsp"}
	ds, ok := dsp.DatasetOf(&p, svc, false)
	if !ok {
		t.Fatal("not a dataset")
	}
	if _, err := dsp.Encode(&ds); err != nil {
		t.Fatalf("dataset: %v", err)
	}
	want := []string{"0.05", "1200", "1.500"}
	for i, o := range ds.HasPolicy {
		got := o.Permission[0].Duty[0].Constraint[0].RightOperand.(map[string]any)["@value"]
		if got != want[i] || o.ID != dsp.OfferID("prd_1", 2, i) {
			t.Errorf("offer %d: %s pays %v, want %s", i, o.ID, got, want[i])
		}
	}
	if c := ds.HasPolicy[1].Permission[0].Constraint; len(c) != 2 || c[1].RightOperand.(map[string]any)["@value"] != "P1Y" {
		t.Errorf("subscription constraints %+v", c)
	}
	ref, _ := dsp.DatasetOf(&p, svc, true)
	cat := dsp.Catalog{ID: "https://x.example/dsp/catalog", ParticipantID: "urn:dataport:participant:op", Service: []dsp.DataService{svc}, Dataset: []dsp.Dataset{ref}}
	if _, err := dsp.Encode(&cat); err != nil {
		t.Fatalf("catalog: %v", err)
	}
	empty := dsp.Catalog{ID: "https://x.example/dsp/catalog", ParticipantID: "urn:dataport:participant:op", Service: []dsp.DataService{svc}}
	if _, err := dsp.Encode(&empty); err != nil {
		t.Fatalf("an empty page: %v", err)
	}
	none := product()
	if _, ok := dsp.DatasetOf(&none, svc, true); ok {
		t.Fatal("a product without a price plan has nothing to offer")
	}
}

func TestParseFilter(t *testing.T) {
	q, err := dsp.ParseFilter([]any{map[string]any{"q": "港口", "deliveryMode": "HttpData-PULL"}, map[string]any{"publisher": "urn:dataport:participant:prt_s", "q": "港口"}})
	if err != nil || q.Q != "港口" || q.DeliveryMode != "file" || q.SupplierID != "prt_s" {
		t.Fatalf("%+v %v", q, err)
	}
	for _, bad := range [][]any{{"q"}, {map[string]any{}}, {map[string]any{"limit": "5"}}, {map[string]any{"grade": 1}},
		{map[string]any{"type": "api"}, map[string]any{"type": "tool"}}} {
		if _, err := dsp.ParseFilter(bad); dataport.KindOf(err) != dataport.KindInvalid || len(dataport.FieldsOf(err)) == 0 {
			t.Errorf("ParseFilter(%v): %v", bad, err)
		}
	}
}
