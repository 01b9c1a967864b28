package web

import (
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
)

// TestEditorRoundTrip: a product's details shown in the editor and sent back
// unchanged are the same details — a revision made through the editor loses
// nothing the supplier did not change.
func TestEditorRoundTrip(t *testing.T) {
	l := &Localizer{Lang: En, msgs: catalogue{}, log: slog.New(slog.DiscardHandler)}
	sum := strings.Repeat("ab", 32)
	for _, d := range []catalog.Details{
		{
			Type: "dataset", Title: dataport.Bilingual{Zh: "港口吞吐量", En: "Port throughput"},
			Summary:     dataport.Bilingual{Zh: "每日", En: "Daily"},
			Description: dataport.Bilingual{Zh: "说明\n第二行", En: "About it"},
			Category:    "shipping", Tags: []string{"port", "港口"},
			Fields: []catalog.Field{{Name: "port", Type: "string", Description: dataport.Bilingual{Zh: "港口", En: "port"}},
				{Name: "teu", Type: "integer"}, {Name: "note", Type: "string", Description: dataport.Bilingual{Zh: "备注"}}},
			Sample: "port,teu\nSHA,1200", Coverage: "Yangtze delta", TimeSpan: catalog.TimeSpan{From: "2024-01-01", To: "2025-12-31"},
			UpdateFrequency: "daily", DeliveryModes: []string{"file", "api"}, Scenarios: []string{"research", "risk management"},
			Restrictions: "No resale.", UsagePolicy: "Internal use.",
			PricePlans: []catalog.PricePlan{
				{Kind: "subscription", Period: "quarter", Price: dataport.Money{Amount: 150050, Currency: "CNY"}, Name: "Quarterly"},
				{Kind: "one_off", Price: dataport.Money{Amount: 5, Currency: "USD"}},
				{Kind: "per_call", Price: dataport.Money{Amount: 300, Currency: "JPY"}},
				{Kind: "one_off", Price: dataport.Money{Amount: 100, Currency: "CNY"}, Name: "Fourth"},
				{Kind: "one_off", Price: dataport.Money{Amount: 200, Currency: "CNY"}, Name: "Fifth, beyond the editor's first rows"},
			},
			Source: "enterprise", LawfulBasis: "Contracts with the ports.", Rights: catalog.Rights{Holding: true, ProductOperation: true},
			Grade: "general", Sublevel: 3, PISubjects: 1200, SensitivePISubjects: 10, Deidentification: "hashed",
			OriginJurisdiction: "CN", ExportAllowed: true, ExportMechanism: "standard_contract", ExportMechanismRef: "SC-2026-1",
			Attachments: []catalog.Attachment{{Kind: "compliance_report", SHA256: sum, Name: "report.pdf"}},
		},
		{
			Type: "api", Title: dataport.Bilingual{En: "Only English"}, Source: "public", Grade: "important", ImportantNotified: true,
			OriginJurisdiction: "SG", DeliveryModes: []string{"sandbox"},
		},
	} {
		f := NewForm(supplierDetailsValues(d))
		got, _ := supplierParseDetails(f, l)
		if f.Invalid() {
			t.Fatalf("%s: the editor cannot read its own form: %v %v", d.Title.En, f.problems, f.General)
		}
		if !reflect.DeepEqual(got, d) {
			t.Errorf("%s: round trip\n got %+v\nwant %+v", d.Title.En, got, d)
		}
	}
}

// TestEditorPrices: a plan's price reads in the currency's units, exactly.
func TestEditorPrices(t *testing.T) {
	for _, c := range []struct {
		in, currency string
		want         int64
		ok           bool
	}{
		{"1500", "CNY", 150000, true}, {"1,500.5", "CNY", 150050, true}, {"0.07", "USD", 7, true}, {"300", "JPY", 300, true},
		{"1.005", "CNY", 0, false}, {"1.5", "JPY", 0, false}, {"-3", "CNY", 0, false}, {"lots", "CNY", 0, false},
		{"", "CNY", 0, false}, {"1.", "CNY", 0, false}, {".5", "CNY", 0, false}, {"+4", "CNY", 0, false},
	} {
		got, ok := supplierParsePrice(c.in, c.currency)
		if got != c.want || ok != c.ok {
			t.Errorf("%q %s: %d %v, want %d %v", c.in, c.currency, got, ok, c.want, c.ok)
		}
		if ok {
			if back := supplierFormatAmount(dataport.Money{Amount: got, Currency: c.currency}); back != strings.ReplaceAll(c.in, ",", "") &&
				!strings.HasPrefix(back, strings.ReplaceAll(c.in, ",", "")) {
				t.Errorf("%q %s: written back as %q", c.in, c.currency, back)
			}
		}
	}
}
