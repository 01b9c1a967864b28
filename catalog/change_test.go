package catalog_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

// Editing a listed product: the new revision goes through review as a pending change;
// buyers see (and search) the listed revision until the operator approves it.
func TestEditingAListedProduct(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		w := setup(t, engine)
		ctx := context.Background()
		p := w.list(w.supplier, details()) // 小微企业信用评分, revision 1
		edited := details()
		edited.Title = dataport.Bilingual{Zh: "小微企业违约预测", En: "SME default prediction"}
		edited.Summary, edited.Tags = dataport.Bilingual{Zh: "违约概率预测", En: "Default probabilities"}, []string{"default"}
		quality := w.upload(w.supplier, []byte("质量报告 quality report: completeness 99.2%"))
		edited.Attachments = append(edited.Attachments, catalog.Attachment{Kind: "quality_report", SHA256: quality.SHA256, Name: "quality.txt"})

		// The buyer cannot revise it; the supplier can, and the listing stays as it was.
		_, err := w.cat.Revise(ctx, w.buyer, p.ID, edited)
		kind(t, err, dataport.KindNotFound)
		got, err := w.cat.Revise(ctx, w.supplier, p.ID, edited)
		if err != nil || got.Status != catalog.Listed || got.Change == nil || got.Change.Status != catalog.Draft ||
			got.Change.Revision != 2 || got.ListedRevision != 1 {
			t.Fatalf("revise listed: %+v %v", got, err)
		}
		seen, err := w.cat.Get(ctx, w.buyer, p.ID)
		if err != nil || seen.Revision != 1 || seen.Change != nil || seen.Details.Title.En != "SME credit scoring" {
			t.Fatalf("buyer sees %+v %v", seen, err)
		}
		if ids := w.search(catalog.SearchQuery{Q: "违约"}); len(ids) != 0 {
			t.Fatalf("an unapproved change is searchable: %v", ids)
		}
		if ids := w.search(catalog.SearchQuery{Q: "信用"}); len(ids) != 1 {
			t.Fatalf("the listed revision is not searchable: %v", ids)
		}
		// The pending change's new attachment is not the buyer's to read yet.
		_, err = w.cat.OpenAttachment(ctx, w.buyer, p.ID, quality.SHA256)
		kind(t, err, dataport.KindNotFound)

		// Review steps run on the change; an out-of-order step names both states.
		_, err = w.cat.Approve(ctx, w.operator, p.ID)
		kind(t, err, dataport.KindConflict)
		if !strings.Contains(err.Error(), "is listed with a pending change in draft") {
			t.Fatalf("conflict: %v", err)
		}
		for _, step := range []func() (catalog.Product, error){
			func() (catalog.Product, error) { return w.cat.Submit(ctx, w.supplier, p.ID) },
			func() (catalog.Product, error) { return w.cat.StartReview(ctx, w.operator, p.ID) },
		} {
			if got, err = step(); err != nil || got.Status != catalog.Listed {
				t.Fatalf("%+v %v", got, err)
			}
		}
		_, err = w.cat.Revise(ctx, w.supplier, p.ID, edited)
		kind(t, err, dataport.KindConflict) // not while in review
		if got, err = w.cat.Reject(ctx, w.operator, p.ID, []string{"the new title overstates the model"}); err != nil ||
			got.Change.Status != catalog.Rejected || got.Status != catalog.Listed || len(got.ReviewReasons) != 1 {
			t.Fatalf("reject change: %+v %v", got, err)
		}
		if seen, _ := w.cat.Get(ctx, w.buyer, p.ID); seen.Revision != 1 || seen.ReviewReasons != nil {
			t.Fatalf("after rejecting the change the buyer sees %+v", seen)
		}
		// Revised again, submitted, approved: the new revision is listed under the same
		// number, with a new certificate, and search follows.
		edited.Title.En = "SME default prediction model"
		if got, err = w.cat.Revise(ctx, w.supplier, p.ID, edited); err != nil || got.Change.Revision != 3 {
			t.Fatalf("revise after rejection: %+v %v", got, err)
		}
		for _, step := range []func() (catalog.Product, error){
			func() (catalog.Product, error) { return w.cat.Submit(ctx, w.supplier, p.ID) },
			func() (catalog.Product, error) { return w.cat.StartReview(ctx, w.operator, p.ID) },
			func() (catalog.Product, error) { return w.cat.Approve(ctx, w.operator, p.ID) },
		} {
			if got, err = step(); err != nil {
				t.Fatal(err)
			}
		}
		if got.Change != nil || got.ListedRevision != 3 || got.RegistrationNumber != p.RegistrationNumber {
			t.Fatalf("approved change: %+v", got)
		}
		seen, _ = w.cat.Get(ctx, w.buyer, p.ID)
		if seen.Revision != 3 || seen.Details.Title.En != "SME default prediction model" {
			t.Fatalf("buyer after approval: %+v", seen)
		}
		if ids := w.search(catalog.SearchQuery{Q: "违约"}); len(ids) != 1 {
			t.Fatalf("the approved revision is not searchable: %v", ids)
		}
		if ids := w.search(catalog.SearchQuery{Q: "信用"}); len(ids) != 0 {
			t.Fatalf("the old revision is still searchable: %v", ids)
		}
		cert, err := w.cat.Certificate(ctx, w.buyer, p.ID)
		if err != nil || cert.Certificate.Revision != 3 || cert.Certificate.RegistrationNumber != p.RegistrationNumber {
			t.Fatalf("certificate: %+v %v", cert, err)
		}
		a, err := w.cat.OpenAttachment(ctx, w.buyer, p.ID, quality.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(a)
		a.Close()
		if !strings.Contains(string(b), "completeness") {
			t.Fatalf("attachment %q", b)
		}

		// A change approved while the product is suspended shows when it resumes, and
		// resuming indexes the listed revision, never a pending one.
		if _, err := w.cat.Suspend(ctx, w.operator, p.ID, "complaint"); err != nil {
			t.Fatal(err)
		}
		edited.Title = dataport.Bilingual{Zh: "小微企业现金流预测", En: "SME cash flow forecast"}
		if _, err := w.cat.Revise(ctx, w.supplier, p.ID, edited); err != nil {
			t.Fatal(err)
		}
		if _, err := w.cat.Resume(ctx, w.operator, p.ID); err != nil {
			t.Fatal(err)
		}
		if ids := w.search(catalog.SearchQuery{Q: "现金流"}); len(ids) != 0 {
			t.Fatalf("resume indexed the pending change: %v", ids)
		}
		if ids := w.search(catalog.SearchQuery{Q: "违约"}); len(ids) != 1 {
			t.Fatalf("resume lost the listed revision: %v", ids)
		}
		// Delisting drops the pending change.
		if got, err = w.cat.Delist(ctx, w.supplier, p.ID); err != nil || got.Change != nil {
			t.Fatalf("delist: %+v %v", got, err)
		}
		_, err = w.cat.Revise(ctx, w.supplier, p.ID, edited)
		kind(t, err, dataport.KindConflict)

		// Every step is filed; the listings carry their revisions.
		var listings []ledger.Filing
		w.db.Read(ctx, func(tx *store.Tx) error {
			listings, err = ledger.List(tx, ledger.Filter{Subject: p.ID, Type: "product.listed"})
			return err
		})
		if len(listings) != 2 || !strings.Contains(string(listings[1].Payload), `"revision":3`) {
			t.Fatalf("listings filed: %d", len(listings))
		}
	})
}

// A revision may cite only documents its supplier (or the agent acting for it)
// uploaded: not another firm's report, not a hash of nothing.
func TestAttachmentsMustBeUploaded(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		w := setup(t, engine)
		ctx := context.Background()
		theirs := w.upload(w.agent, []byte("the agent's own report for another client"))
		for _, sum := range []string{theirs.SHA256, strings.Repeat("0", 64)} {
			d := details()
			d.Attachments = []catalog.Attachment{{Kind: "compliance_report", SHA256: sum}}
			_, err := w.cat.Create(ctx, w.supplier, catalog.NewProduct{SupplierID: w.supplier.ParticipantID, Details: d})
			kind(t, err, dataport.KindInvalid)
			if fs := dataport.FieldsOf(err); len(fs) != 1 || fs[0].Field != "details.attachments[0].sha256" {
				t.Fatalf("problems %v", fs)
			}
		}
		// Buyers upload nothing; bad names are refused before any byte is stored.
		_, err := w.cat.UploadAttachment(ctx, w.buyer, catalog.NewAttachment{Name: "x.pdf"}, strings.NewReader("x"))
		kind(t, err, dataport.KindForbidden)
		_, err = w.cat.UploadAttachment(ctx, w.supplier, catalog.NewAttachment{Name: "../../etc/passwd"}, strings.NewReader("x"))
		kind(t, err, dataport.KindInvalid)
		// A suspended supplier uploads nothing.
		if _, err := w.reg.Suspend(ctx, w.operator, w.supplier.ParticipantID, "investigation"); err != nil {
			t.Fatal(err)
		}
		_, err = w.cat.UploadAttachment(ctx, w.supplier, catalog.NewAttachment{Name: "x.pdf"}, strings.NewReader("x"))
		kind(t, err, dataport.KindForbidden)
		var n int
		w.db.Read(ctx, func(tx *store.Tx) error {
			return tx.QueryRow(`SELECT COUNT(*) FROM attachments WHERE participant_id = $1`, w.supplier.ParticipantID).Scan(&n)
		})
		if n != 1 { // the compliance report of setup
			t.Fatalf("%d attachments recorded for the supplier", n)
		}
		// The same bytes uploaded twice are one attachment.
		again := w.upload(w.agent, []byte("the agent's own report for another client"))
		if again.SHA256 != theirs.SHA256 || !again.UploadedAt.Equal(theirs.UploadedAt) {
			t.Fatalf("second upload %+v, first %+v", again, theirs)
		}
	})
}

// The operator finds what to review — new products and pending changes — and a
// supplier or agent finds its own products in every state.
func TestReviewQueueAndOwnProducts(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		w := setup(t, engine)
		ctx := context.Background()
		listed := w.list(w.supplier, details())
		draft, _ := w.cat.Create(ctx, w.supplier, catalog.NewProduct{SupplierID: w.supplier.ParticipantID, Details: details()})
		submitted, _ := w.cat.Create(ctx, w.supplier, catalog.NewProduct{SupplierID: w.supplier.ParticipantID, Details: details()})
		if _, err := w.cat.Submit(ctx, w.supplier, submitted.ID); err != nil {
			t.Fatal(err)
		}
		foreign := details()
		foreign.OriginJurisdiction = "NO"
		agented, err := w.cat.Create(ctx, w.agent, catalog.NewProduct{SupplierID: w.foreign.ID, Details: foreign})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.cat.Submit(ctx, w.agent, agented.ID); err != nil {
			t.Fatal(err)
		}
		changed := details()
		changed.Title.En = "SME credit scoring v2"
		if _, err := w.cat.Revise(ctx, w.supplier, listed.ID, changed); err != nil {
			t.Fatal(err)
		}
		if _, err := w.cat.Submit(ctx, w.supplier, listed.ID); err != nil {
			t.Fatal(err)
		}

		_, err = w.cat.ReviewQueue(ctx, w.supplier, "", 10)
		kind(t, err, dataport.KindForbidden)
		var queued []string
		for after := ""; ; {
			page, err := w.cat.ReviewQueue(ctx, w.operator, after, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range page.Items {
				queued = append(queued, p.ID)
			}
			if after = page.Next; after == "" {
				break
			}
		}
		if want := []string{listed.ID, submitted.ID, agented.ID}; strings.Join(queued, " ") != strings.Join(want, " ") {
			t.Fatalf("review queue %v, want %v (oldest first; not the draft %s)", queued, want, draft.ID)
		}
		page, _ := w.cat.ReviewQueue(ctx, w.operator, "", 10)
		if page.Items[0].Revision != 2 || page.Items[0].Change == nil || page.Items[0].Details.Title.En != "SME credit scoring v2" {
			t.Fatalf("the queue shows the change under review: %+v", page.Items[0])
		}

		own, err := w.cat.ProductsOf(ctx, w.supplier, w.supplier.ParticipantID, "", "", 10)
		if err != nil || len(own.Items) != 3 {
			t.Fatalf("supplier's products: %d %v", len(own.Items), err)
		}
		drafts, _ := w.cat.ProductsOf(ctx, w.supplier, w.supplier.ParticipantID, "draft", "", 10)
		if len(drafts.Items) != 1 || drafts.Items[0].ID != draft.ID {
			t.Fatalf("supplier's drafts: %+v", drafts.Items)
		}
		asAgent, _ := w.cat.ProductsOf(ctx, w.agent, w.agent.ParticipantID, "", "", 10)
		if len(asAgent.Items) != 1 || asAgent.Items[0].ID != agented.ID {
			t.Fatalf("agent's products: %+v", asAgent.Items)
		}
		_, err = w.cat.ProductsOf(ctx, w.buyer, w.supplier.ParticipantID, "", "", 10)
		kind(t, err, dataport.KindNotFound)
		_, err = w.cat.ProductsOf(ctx, w.supplier, w.supplier.ParticipantID, "archived", "", 10)
		kind(t, err, dataport.KindInvalid)
	})
}
