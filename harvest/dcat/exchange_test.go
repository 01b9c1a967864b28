package dcat_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/api"
	"github.com/dataport/dataport/blob"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/harvest/dcat"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

// exchange starts the exchange's own API over a fresh SQLite database with n listed
// products, and returns it with the products in listing order.
func exchange(t *testing.T, n int) (*httptest.Server, []catalog.Product) {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, store.SQLite, store.Options{Clock: dataport.NewFixedClock(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))})
	reg := registry.New(db)
	_, token, _, err := reg.Bootstrap(ctx, registry.OperatorIdentity{LegalName: dataport.Bilingual{Zh: "测试交易所"}})
	if err != nil {
		t.Fatal(err)
	}
	operator, _ := reg.Authenticate(ctx, token)
	blobs, err := blob.OpenFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(db, reg, blobs, nil)
	uscc, err := registry.CompleteUSCC("91310115MA1K2XH01")
	if err != nil {
		t.Fatal(err)
	}
	p, err := reg.CreateParticipant(ctx, operator, registry.NewParticipant{LegalName: dataport.Bilingual{Zh: "上海星河数据科技有限公司"},
		Jurisdiction: "CN", Kind: registry.Domestic, USCC: uscc, Roles: []dataport.Role{dataport.RoleSupplier}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.ReviewKYC(ctx, operator, p.ID, registry.KYCReview{Status: registry.KYCVerified}); err != nil {
		t.Fatal(err)
	}
	_, tok, err := reg.CreateAPIKey(ctx, operator, p.ID, registry.NewAPIKey{Name: "t"})
	if err != nil {
		t.Fatal(err)
	}
	supplier, _ := reg.Authenticate(ctx, tok)
	report := []byte("第三方数据合规评估报告 / Third-party data compliance assessment report\n结论：符合 / Conclusion: compliant\n")
	if _, err := cat.UploadAttachment(ctx, supplier, catalog.NewAttachment{Name: "report.txt", MediaType: "text/plain"}, bytes.NewReader(report)); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(report)
	var listed []catalog.Product
	for i := range n {
		d := catalog.Details{
			Type:          "dataset",
			Title:         dataport.Bilingual{Zh: []string{"小微企业信用评分", "北海原油产量", "航运指数"}[i%3], En: []string{"SME credit scoring", "North Sea oil output", "Shipping index"}[i%3]},
			Summary:       dataport.Bilingual{Zh: "基于订单数据的信用评分", En: "Credit scores from order data"},
			Category:      "finance",
			Tags:          []string{"credit", "信用"},
			DeliveryModes: []string{"api", "file"},
			Scenarios:     []string{"credit risk assessment"},
			PricePlans:    []catalog.PricePlan{{Kind: "subscription", Period: "month", Price: dataport.Money{Amount: 1200000, Currency: "CNY"}}},
			Source:        "enterprise", Grade: "general", Sublevel: 2, OriginJurisdiction: "CN",
			Rights:      catalog.Rights{Holding: true, ProcessingUse: true, ProductOperation: true},
			Attachments: []catalog.Attachment{{Kind: "compliance_report", SHA256: hex.EncodeToString(sum[:]), Name: "合规评估报告.txt"}},
		}
		pr, err := cat.Create(ctx, supplier, catalog.NewProduct{SupplierID: supplier.ParticipantID, Details: d})
		if err != nil {
			t.Fatal(err)
		}
		for _, step := range []func() (catalog.Product, error){
			func() (catalog.Product, error) { return cat.Submit(ctx, supplier, pr.ID) },
			func() (catalog.Product, error) { return cat.StartReview(ctx, operator, pr.ID) },
			func() (catalog.Product, error) { return cat.Approve(ctx, operator, pr.ID) },
		} {
			if pr, err = step(); err != nil {
				t.Fatal(err)
			}
		}
		listed = append(listed, pr)
	}
	srv := httptest.NewServer(api.NewServer(api.Deps{DB: db, Registry: reg, Catalog: cat}))
	t.Cleanup(srv.Close)
	return srv, listed
}

// TestExchangeExport harvests the exchange's own /catalog.jsonld, served by its API
// and paged by Link headers, two products a page.
func TestExchangeExport(t *testing.T) {
	srv, listed := exchange(t, 5)
	res := read(t, dcat.New(srv.URL+"/catalog.jsonld?size=2", dcat.Options{}))
	if res.err != nil || len(res.problems) != 0 {
		t.Fatalf("err %v, problems %+v", res.err, res.problems)
	}
	if len(res.records) != len(listed) {
		t.Fatalf("%d records, want %d", len(res.records), len(listed))
	}
	for i, p := range listed {
		r := res.records[i]
		id := srv.URL + "/api/v1/products/" + p.ID
		if r.ID != id || r.Title != p.Details.Title || r.Description != p.Details.Summary ||
			!reflect.DeepEqual(r.Keywords, p.Details.Tags) || !reflect.DeepEqual(r.Categories, []string{"finance"}) ||
			r.Publisher != "urn:dataport:participant:"+p.SupplierID || !r.Issued.Equal(p.RegisteredAt.Truncate(time.Second)) {
			t.Errorf("record %d: %+v", i, r)
		}
		if want := []string{"https://dataport.example/ns#type", "dct:identifier", "dct:spatial", "https://dataport.example/ns#grade", "https://dataport.example/ns#detailsSHA256", "odrl:hasPolicy"}; !hasKeys(r.Extra, want) ||
			r.Extra["dct:identifier"] != p.RegistrationNumber || r.Extra["https://dataport.example/ns#detailsSHA256"] != p.DetailsSHA256 {
			t.Errorf("record %d extra: %v", i, r.Extra)
		}
		if len(r.Distributions) != 2 || r.Distributions[0].URL != id || r.Distributions[1].URL != id {
			t.Errorf("record %d distributions: %+v", i, r.Distributions)
		}
		if !strings.HasPrefix(r.Ref, srv.URL+"/catalog.jsonld?") {
			t.Errorf("ref %s", r.Ref)
		}
	}
	if res.records[4].Ref != srv.URL+"/catalog.jsonld?page=3&size=2" {
		t.Errorf("last page ref %s", res.records[4].Ref)
	}
	policy, _ := res.records[0].Extra["odrl:hasPolicy"].(map[string]any)
	if policy["@type"] == nil || policy["odrl:permission"] == nil {
		t.Errorf("policy %v", policy)
	}
}

func hasKeys(m map[string]any, keys []string) bool {
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			return false
		}
	}
	return true
}
