package harvest_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/harvest"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
	"github.com/dataport/dataport/trade/tradetest"
)

// records is a connector over records held in memory: the platform as the test
// changes it between runs.
type records struct {
	recs     []harvest.Record
	problems []harvest.Problem
	fail     error
}

func (c *records) Read(ctx context.Context, yield func(harvest.Record) error, problem func(harvest.Problem)) error {
	if c.fail != nil {
		return c.fail
	}
	for _, p := range c.problems {
		problem(p)
	}
	for _, r := range c.recs {
		if err := yield(r); err != nil {
			return err
		}
	}
	return nil
}

func rec(id, title, licence string) harvest.Record {
	return harvest.Record{ID: id, Ref: "datasets/" + id + ".yaml", Title: dataport.Bilingual{En: title},
		Description: dataport.Bilingual{En: title + ". Daily observations from stations worldwide."}, License: licence,
		Keywords: []string{"climate", "weather"}, UpdateFrequency: "Daily",
		Distributions: []harvest.Distribution{{Title: "bucket", S3: &harvest.S3Resource{ARN: "arn:aws:s3:::" + id + "-pds", Region: "us-east-1", Bucket: id + "-pds"}}}}
}

func filings(t *testing.T, db *store.DB) int64 {
	t.Helper()
	var n int64
	db.Read(context.Background(), func(tx *store.Tx) error {
		return tx.QueryRow(`SELECT COUNT(*) FROM filings`).Scan(&n)
	})
	return n
}

// The sync engine: records become products (listed at once under the source's
// criteria, or queued for review); a changed record is one new revision, a removed
// one a delisting; an unchanged run files only its run record; a record that fails
// is reported and its product left as it was; a source that cannot be read fails
// the run and delists nothing.
func TestSyncEngine(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		w := tradetest.New(t, engine)
		report, err := w.Cat.UploadAttachment(ctx, w.Supplier, catalog.NewAttachment{Name: "platform-assessment.pdf", MediaType: "application/pdf"},
			strings.NewReader("%PDF assessment of the platform's catalog"))
		if err != nil {
			t.Fatal(err)
		}
		platform := &records{recs: []harvest.Record{
			rec("noaa-ghcn", "NOAA Global Historical Climatology Network Daily", "Open Data. CC0 1.0"),
			rec("era5", "ECMWF ERA5 reanalysis", "CC-BY-4.0"),
			rec("sentinel", "Sentinel-2 imagery", "Free and open under the Copernicus licence"),
		}}
		svc := harvest.New(w.DB, w.Reg, w.Cat, nil, harvest.Connectors{harvest.KindAWSOpenData: func(harvest.Source) (harvest.Connector, error) { return platform, nil }})
		n := harvest.NewSource{Name: "AWS Open Data", Kind: harvest.KindAWSOpenData, Location: "registry", SupplierID: w.Supplier.ParticipantID,
			Settings: harvest.Settings{Scenarios: []string{"research"}, ComplianceReport: report.SHA256,
				AutoList: harvest.AutoList{Enabled: true, OpenLicence: true}}}
		if _, err := svc.AddSource(ctx, w.Buyer, n); dataport.KindOf(err) != dataport.KindForbidden {
			t.Fatalf("a buyer adds a source: %v", err)
		}
		bad := n
		bad.Settings.Scenarios = nil
		if _, err := svc.AddSource(ctx, w.Operator, bad); dataport.KindOf(err) != dataport.KindInvalid {
			t.Fatalf("no scenarios: %v", err)
		}
		src, err := svc.AddSource(ctx, w.Operator, n)
		if err != nil {
			t.Fatal(err)
		}

		rep, err := svc.Run(ctx, w.Operator, src.ID, nil)
		if err != nil || rep.Status != "succeeded" {
			t.Fatalf("first run: %+v, %v", rep, err)
		}
		if rep.Added != 3 || rep.Listed != 2 || rep.Queued != 1 || rep.Failed != 0 || rep.Resources != 3 || rep.S3Buckets != 3 {
			t.Fatalf("first run: %+v", rep)
		}
		if len(rep.Notices) != 1 || rep.Notices[0].ID != "sentinel" || !strings.Contains(rep.Notices[0].Reason, "licence") {
			t.Fatalf("notices: %+v", rep.Notices)
		}
		page, err := w.Cat.ProductsOf(ctx, w.Operator, w.Supplier.ParticipantID, "listed", "", 100)
		if err != nil || len(page.Items) != 3 { // the world's own product and two harvested
			t.Fatalf("listed: %d, %v", len(page.Items), err)
		}

		// No change: nothing written but the run's filing.
		before := filings(t, w.DB)
		rep, err = svc.Run(ctx, w.Operator, src.ID, nil)
		if err != nil || rep.Unchanged != 3 || rep.Added+rep.Changed+rep.Removed != 0 {
			t.Fatalf("no-change run: %+v, %v", rep, err)
		}
		if after := filings(t, w.DB); after != before+1 {
			t.Fatalf("a no-change run filed %d entries, want 1 (the run)", after-before)
		}

		// One record changed, one removed, one broken: one revision, one delisting,
		// the broken one's product untouched.
		era5 := rec("era5", "ECMWF ERA5 hourly reanalysis", "CC-BY-4.0")
		platform.recs = []harvest.Record{era5, rec("sentinel", "Sentinel-2 imagery", "Free and open under the Copernicus licence")}
		platform.problems = []harvest.Problem{{Ref: "datasets/noaa-ghcn.yaml", ID: "noaa-ghcn", Field: "Resources[0].ARN", Reason: "not an ARN"}}
		rep, err = svc.Run(ctx, w.Operator, src.ID, nil)
		if err != nil || rep.Changed != 1 || rep.Removed != 0 || rep.Failed != 1 || rep.Unchanged != 1 {
			t.Fatalf("change run: %+v, %v", rep, err)
		}
		platform.problems = nil
		platform.recs = []harvest.Record{era5}
		rep, err = svc.Run(ctx, w.Operator, src.ID, nil)
		if err != nil || rep.Removed != 2 || rep.Unchanged != 1 {
			t.Fatalf("removal run: %+v, %v", rep, err)
		}
		delisted, _ := w.Cat.ProductsOf(ctx, w.Operator, w.Supplier.ParticipantID, "delisted", "", 100)
		if len(delisted.Items) != 2 {
			t.Fatalf("delisted %d, want 2", len(delisted.Items))
		}
		// The changed record's product: listed, a second revision with the new title.
		listed, _ := w.Cat.ProductsOf(ctx, w.Operator, w.Supplier.ParticipantID, "listed", "", 100)
		var found bool
		for _, p := range listed.Items {
			if p.Details.Harvested != nil && p.Details.Harvested.RecordID == "era5" {
				found = p.Details.Title.En == "ECMWF ERA5 hourly reanalysis" && p.ListedRevision == 2
			}
		}
		if !found {
			t.Fatalf("the changed record's product: %+v", listed.Items)
		}

		// A source that cannot be read fails the run; nothing is delisted.
		platform.fail = errors.New("no such folder")
		rep, err = svc.Run(ctx, w.Operator, src.ID, nil)
		if err != nil || rep.Status != "failed" || rep.Removed != 0 || !strings.Contains(rep.Error, "no such folder") {
			t.Fatalf("unreadable source: %+v, %v", rep, err)
		}
		runs, err := svc.Runs(ctx, w.Operator, src.ID, 10)
		if err != nil || len(runs) != 5 || runs[0].Status != "failed" {
			t.Fatalf("runs: %d, %v", len(runs), err)
		}
	})
}
