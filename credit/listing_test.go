package credit_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/blob"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/credit"
	"github.com/dataport/dataport/finance"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

// A merchant that sent many batches and a live stream lists its orders: the
// stream is one attestation, cited by its latest chunk's filing with the SHA-256
// of all its bytes; the sample lists the newest attestations and says how many
// more there are; the description cites as many as fit; every text keeps within
// the catalog's limits. Only the merchant consents: the operator and regulators
// are refused, and nothing is created.
func TestListDataCitesBatchesAndStreams(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		e := setup(t, engine)
		ctx := context.Background()
		code, err := registry.CompleteUSCC("91330402MA2JD7F29")
		if err != nil {
			t.Fatal(err)
		}
		roles := []dataport.Role{dataport.RoleMerchant, dataport.RoleSupplier}
		p, err := e.reg.CreateParticipant(ctx, e.operator, registry.NewParticipant{
			LegalName:    dataport.Bilingual{Zh: "嘉兴冻品鲜生食品有限公司", En: "Jiaxing Frozen Fresh Foods Co., Ltd."},
			Jurisdiction: "CN", Kind: registry.Domestic, USCC: code, Roles: roles})
		if err != nil {
			t.Fatal(err)
		}
		merchant := dataport.Actor{ParticipantID: p.ID, Roles: roles}
		// Chunks of 100 lines: a stream of 250 lines is attested in three.
		fin := finance.New(e.db, e.reg, finance.Options{SpoolDir: t.TempDir(), StreamChunkOrders: 100})
		blobs, err := blob.OpenFS(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		e.svc.ListThrough(catalog.New(e.db, e.reg, blobs, nil), fin)
		if _, err := fin.ConnectShop(ctx, merchant, p.ID, finance.NewShop{Platform: "taobao", ExternalID: "A100", Name: "冻品鲜生旗舰店"}); err != nil {
			t.Fatal(err)
		}
		order := func(id string) string {
			return fmt.Sprintf(`{"order_id":%q,"shop":"A100","ordered_at":"2026-11-24T10:00:00+08:00","amount":"10.00","currency":"CNY","status":"paid"}`+"\n", id)
		}
		const batches = 70
		for i := range batches {
			if _, err := fin.IngestBatch(ctx, merchant, p.ID, "jsonl", strings.NewReader(order(fmt.Sprint("B", i)))); err != nil {
				t.Fatal(err)
			}
		}
		var stream strings.Builder
		for i := range 250 {
			stream.WriteString(order(fmt.Sprint("S", i)))
		}
		rep, err := fin.IngestStream(ctx, merchant, p.ID, strings.NewReader(stream.String()), func(finance.BatchReport) {})
		if err != nil || rep.Chunks != 3 {
			t.Fatalf("stream: %+v, %v", rep, err)
		}
		sum := sha256.Sum256([]byte(stream.String()))
		if rep.SHA256 != hex.EncodeToString(sum[:]) {
			t.Fatal("the stream's hash is not of its bytes")
		}
		last := e.filings("finance.stream_attested", p.ID)
		latest := last[len(last)-1]

		n := credit.NewDataProduct{Kind: credit.DataOrders, Consent: true, Purpose: "证明真实销售",
			Scenarios: []string{"供应链赊销授信"}}
		products := e.count(`SELECT COUNT(*) FROM products`)
		for _, a := range []dataport.Actor{e.operator, e.regulator} {
			if _, err := e.svc.ListData(ctx, a, p.ID, n); dataport.KindOf(err) != dataport.KindForbidden {
				t.Fatalf("%s lists the merchant's data: %v", a.Roles, err)
			}
		}
		if _, err := e.svc.ListData(ctx, e.buyer, p.ID, n); dataport.KindOf(err) != dataport.KindNotFound {
			t.Fatalf("a buyer: %v", err)
		}
		if e.count(`SELECT COUNT(*) FROM products`) != products {
			t.Fatal("refused listings created a product")
		}

		prod, err := e.svc.ListData(ctx, merchant, p.ID, n)
		if err != nil {
			t.Fatal(err)
		}
		d := prod.Details
		streamLine := fmt.Sprintf("%d,%s,stream of 3 chunks,%s,jsonl,%s,%d,250,250,", latest.Seq, latest.SHA256, rep.StreamID, rep.SHA256, rep.Bytes)
		if !strings.HasPrefix(strings.SplitN(d.Sample, "\n", 4)[2], streamLine) {
			t.Fatalf("the stream's line: want %s…, sample:\n%s", streamLine, d.Sample)
		}
		if lines := strings.Count(d.Sample, "\n"); lines != 2+60+1 || !strings.Contains(d.Sample, "… and 11 older") {
			t.Fatalf("sample of %d lines:\n%s", lines, d.Sample)
		}
		if d.UpdateFrequency != "realtime" || !strings.Contains(d.Summary.En, "320 orders of 1 shop (taobao)") ||
			!strings.Contains(d.Description.En, fmt.Sprintf("#%d · %s", latest.Seq, latest.SHA256)) ||
			!strings.HasSuffix(d.Description.En, "more, listed in the sample.") || !strings.HasSuffix(d.Description.Zh, "项，见样例。") {
			t.Fatalf("details: %+v", d)
		}
		for name, s := range map[string]string{"description.zh": d.Description.Zh, "description.en": d.Description.En,
			"lawful_basis": d.LawfulBasis, "coverage": d.Coverage} {
			if n := utf8.RuneCountInString(s); n > 2000 || (name == "coverage" && n > 500) {
				t.Errorf("%s has %d characters", name, n)
			}
		}
		if len(d.Sample) > 20000 {
			t.Errorf("a sample of %d bytes", len(d.Sample))
		}
	})
}
