package compliance_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/blob"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/compliance"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
	"golang.org/x/mod/sumdb/note"
)

// exchange is the catalog wired to the compliance engine, as dataport serve wires it.
type exchange struct {
	t          *testing.T
	db         *store.DB
	clock      *dataport.FixedClock
	reg        *registry.Service
	rules      *compliance.Service
	cat        *catalog.Service
	log        *ledger.Log
	operator   dataport.Actor
	agent      dataport.Actor
	supplier   dataport.Actor // foreign
	domestic   dataport.Actor // a domestic supplier, an exporter
	keys       map[string]ed25519.PrivateKey
	keyIDs     map[string]string
	reportHash string
}

func uscc(t *testing.T, first17 string) string {
	c, err := registry.CompleteUSCC(first17)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newExchange(t *testing.T, engine store.Engine) *exchange {
	ctx := context.Background()
	clock := dataport.NewFixedClock(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))
	db := storetest.Open(t, engine, store.Options{Clock: clock})
	reg := registry.New(db)
	_, token, _, err := reg.Bootstrap(ctx, registry.OperatorIdentity{LegalName: dataport.Bilingual{Zh: "测试交易所"}})
	if err != nil {
		t.Fatal(err)
	}
	skey, _, err := ledger.GenerateKey("compliance.test/log")
	if err != nil {
		t.Fatal(err)
	}
	lg, err := ledger.OpenLog(ctx, db, skey, nil)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := compliance.New(ctx, db, reg, lg)
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := blob.OpenFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	x := &exchange{t: t, db: db, clock: clock, reg: reg, rules: rules, cat: catalog.New(db, reg, blobs, rules), log: lg,
		keys: map[string]ed25519.PrivateKey{}, keyIDs: map[string]string{}}
	reg.OnSuspension(x.cat.SuspensionCascade)
	x.operator, _ = reg.Authenticate(ctx, token)
	member := func(n registry.NewParticipant) dataport.Actor {
		p, err := reg.CreateParticipant(ctx, x.operator, n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.ReviewKYC(ctx, x.operator, p.ID, registry.KYCReview{Status: registry.KYCVerified}); err != nil {
			t.Fatal(err)
		}
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		k, err := reg.AddSigningKey(ctx, x.operator, p.ID, registry.NewSigningKey{Name: "contracts", PublicKey: base64.StdEncoding.EncodeToString(pub)})
		if err != nil {
			t.Fatal(err)
		}
		x.keys[p.ID], x.keyIDs[p.ID] = priv, k.ID
		return dataport.Actor{ParticipantID: p.ID, Roles: n.Roles}
	}
	x.supplier = member(registry.NewParticipant{LegalName: dataport.Bilingual{En: "Nordhav Energy Data AS"}, Jurisdiction: "NO",
		Kind: registry.Foreign, RegistrationNumber: "923456781", Roles: []dataport.Role{dataport.RoleSupplier}})
	x.agent = member(registry.NewParticipant{LegalName: dataport.Bilingual{Zh: "上海浦江国际数据服务有限公司"}, Jurisdiction: "CN",
		Kind: registry.Domestic, USCC: uscc(t, "91310101MA1G8PJ03"), Roles: []dataport.Role{dataport.RoleAgent}})
	x.domestic = member(registry.NewParticipant{LegalName: dataport.Bilingual{Zh: "上海星河数据科技有限公司"}, Jurisdiction: "CN",
		Kind: registry.Domestic, USCC: uscc(t, "91310115MA1K2XH01"), Roles: []dataport.Role{dataport.RoleSupplier}})
	if _, err := reg.SetWhitelist(ctx, x.operator, x.agent.ParticipantID, registry.WhitelistEntry{Reference: "MOFCOM-1", ValidUntil: "2027-12-31"}); err != nil {
		t.Fatal(err)
	}
	report, err := x.cat.UploadAttachment(ctx, x.agent, catalog.NewAttachment{Name: "assessment.pdf", MediaType: "application/pdf"},
		strings.NewReader("%PDF third-party compliance assessment of Nordhav North Sea data"))
	if err != nil {
		t.Fatal(err)
	}
	x.reportHash = report.SHA256
	return x
}

func (x *exchange) details() catalog.Details {
	return catalog.Details{Type: "dataset", Title: dataport.Bilingual{Zh: "北海原油产量", En: "North Sea crude output"},
		Summary: dataport.Bilingual{En: "Monthly field output"}, Category: "energy", DeliveryModes: []string{"api"},
		Scenarios: []string{"research"}, Source: "enterprise", Grade: "general", Sublevel: 1, OriginJurisdiction: "NO",
		Rights:      catalog.Rights{Holding: true},
		PricePlans:  []catalog.PricePlan{{Kind: "one_off", Price: dataport.Money{Amount: 100000, Currency: "CNY"}}},
		Attachments: []catalog.Attachment{{Kind: "compliance_report", SHA256: x.reportHash}}}
}

func (x *exchange) sign(who dataport.Actor, doc string) compliance.ContractSignature {
	return compliance.ContractSignature{KeyID: x.keyIDs[who.ParticipantID],
		Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(x.keys[who.ParticipantID], []byte(doc)))}
}

func kind(t *testing.T, err error, k dataport.Kind, says string) {
	t.Helper()
	if err == nil || dataport.KindOf(err) != k || !strings.Contains(err.Error(), says) {
		t.Fatalf("err = %v, want %s saying %q", err, k, says)
	}
}

// R22 end to end: no certified contract, no submission; the parties sign, the
// exchange certifies, the product goes through; all three signatures check offline.
func TestAgencyContract(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		x := newExchange(t, engine)
		ctx := context.Background()
		p, err := x.cat.Create(ctx, x.agent, catalog.NewProduct{SupplierID: x.supplier.ParticipantID, Details: x.details()})
		if err != nil {
			t.Fatal(err)
		}
		_, err = x.cat.Submit(ctx, x.agent, p.ID)
		kind(t, err, dataport.KindForbidden, "no certified agency contract")

		c, err := x.rules.ProposeContract(ctx, x.agent, compliance.NewAgencyContract{SupplierID: x.supplier.ParticipantID,
			AgentID: x.agent.ParticipantID, Categories: []string{"energy"}, ValidFrom: "2026-11-01", ValidUntil: "2027-10-31", Terms: "代理协议"})
		if err != nil {
			t.Fatal(err)
		}
		var doc compliance.ContractDocument
		if err := json.Unmarshal([]byte(c.Document), &doc); err != nil || doc.Type != compliance.ContractType || doc.Supplier.ID != x.supplier.ParticipantID {
			t.Fatalf("document %s: %v", c.Document, err)
		}
		// Refused signatures: over different bytes, by the wrong party, with a revoked key.
		forged := x.sign(x.supplier, strings.Replace(c.Document, "2027-10-31", "2030-10-31", 1))
		_, err = x.rules.SignContract(ctx, x.supplier, c.ID, forged)
		kind(t, err, dataport.KindInvalid, "does not verify")
		_, err = x.rules.SignContract(ctx, x.domestic, c.ID, x.sign(x.domestic, c.Document))
		kind(t, err, dataport.KindNotFound, "no agency contract") // not a party: not its to see
		wrongKey := x.sign(x.supplier, c.Document)
		wrongKey.KeyID = x.keyIDs[x.agent.ParticipantID]
		_, err = x.rules.SignContract(ctx, x.supplier, c.ID, wrongKey)
		kind(t, err, dataport.KindInvalid, "not the signer's")
		// A revoked key signs nothing.
		_, spare, _ := ed25519.GenerateKey(rand.Reader)
		sk, err := x.reg.AddSigningKey(ctx, x.operator, x.supplier.ParticipantID, registry.NewSigningKey{Name: "old",
			PublicKey: base64.StdEncoding.EncodeToString(spare.Public().(ed25519.PublicKey))})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := x.reg.RevokeSigningKey(ctx, x.operator, x.supplier.ParticipantID, sk.ID); err != nil {
			t.Fatal(err)
		}
		_, err = x.rules.SignContract(ctx, x.supplier, c.ID, compliance.ContractSignature{KeyID: sk.ID,
			Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(spare, []byte(c.Document)))})
		kind(t, err, dataport.KindInvalid, "revoked")
		// Not certified before both have signed.
		if _, err := x.rules.SignContract(ctx, x.supplier, c.ID, x.sign(x.supplier, c.Document)); err != nil {
			t.Fatal(err)
		}
		_, err = x.rules.CertifyContract(ctx, x.operator, c.ID)
		kind(t, err, dataport.KindConflict, "both parties sign")
		if c, err = x.rules.SignContract(ctx, x.agent, c.ID, x.sign(x.agent, c.Document)); err != nil || c.Status != "signed" {
			t.Fatalf("agent's signature: %+v %v", c, err)
		}
		// An agent off the whitelist is not certified, and nothing half-certified is left.
		if _, err := x.reg.RemoveWhitelist(ctx, x.operator, x.agent.ParticipantID, "lapsed"); err != nil {
			t.Fatal(err)
		}
		_, err = x.rules.CertifyContract(ctx, x.operator, c.ID)
		kind(t, err, dataport.KindForbidden, "whitelist")
		if got, _ := x.rules.Contract(ctx, x.operator, c.ID); got.Status != "signed" || got.Certificate != "" {
			t.Fatalf("after a refused certification: %+v", got)
		}
		if _, err := x.reg.SetWhitelist(ctx, x.operator, x.agent.ParticipantID, registry.WhitelistEntry{Reference: "MOFCOM-2", ValidUntil: "2027-12-31"}); err != nil {
			t.Fatal(err)
		}
		_, err = x.rules.CertifyContract(ctx, x.agent, c.ID)
		kind(t, err, dataport.KindForbidden, "operator")
		if c, err = x.rules.CertifyContract(ctx, x.operator, c.ID); err != nil || c.Status != "certified" || !c.InForce {
			t.Fatalf("certify: %+v %v", c, err)
		}

		// Offline: the two parties' signatures with their public keys, the exchange's
		// with its verifier key, all over the same document.
		for _, s := range []struct {
			who dataport.Actor
			sig *compliance.ContractSignature
		}{{x.supplier, c.SupplierSignature}, {x.agent, c.AgentSignature}} {
			raw, _ := base64.StdEncoding.DecodeString(s.sig.Signature)
			pub := x.keys[s.who.ParticipantID].Public().(ed25519.PublicKey)
			if !ed25519.Verify(pub, []byte(c.Document), raw) {
				t.Fatalf("%s's signature does not verify", s.who.ParticipantID)
			}
		}
		verifier, err := note.NewVerifier(c.VerifierKey)
		if err != nil {
			t.Fatal(err)
		}
		n, err := note.Open([]byte(c.Certificate), note.VerifierList(verifier))
		if err != nil {
			t.Fatalf("the exchange's certificate: %v", err)
		}
		lines := strings.SplitN(n.Text, "\n", 2)
		var cert struct {
			DocumentSHA256    string                       `json:"document_sha256"`
			SupplierSignature compliance.ContractSignature `json:"supplier_signature"`
		}
		if lines[0] != compliance.ContractCertificateK || json.Unmarshal([]byte(strings.TrimSpace(lines[1])), &cert) != nil ||
			cert.DocumentSHA256 != c.DocumentSHA256 || cert.SupplierSignature != *c.SupplierSignature {
			t.Fatalf("certificate %q", n.Text)
		}
		if _, err := note.Open(bytes.Replace([]byte(c.Certificate), []byte(c.DocumentSHA256[:8]), []byte("00000000"), 1), note.VerifierList(verifier)); err == nil {
			t.Fatal("an altered certificate verifies")
		}

		// Now the product goes through, and its listing assessment is filed.
		for _, step := range []func() (catalog.Product, error){
			func() (catalog.Product, error) { return x.cat.Submit(ctx, x.agent, p.ID) },
			func() (catalog.Product, error) { return x.cat.StartReview(ctx, x.operator, p.ID) },
			func() (catalog.Product, error) { return x.cat.Approve(ctx, x.operator, p.ID) },
		} {
			if _, err := step(); err != nil {
				t.Fatal(err)
			}
		}
		a, err := x.rules.LatestAssessment(ctx, x.operator, x.cat, p.ID)
		if err != nil || a.Outcome != "allow" || a.Facts.Context != "listing" || !a.Facts.Agent.ContractInForce {
			t.Fatalf("listing assessment: %+v %v", a, err)
		}
		// A product outside the contract's scope is refused.
		other := x.details()
		other.Category = "shipping"
		q, err := x.cat.Create(ctx, x.agent, catalog.NewProduct{SupplierID: x.supplier.ParticipantID, Details: other})
		if err != nil {
			t.Fatal(err)
		}
		_, err = x.cat.Submit(ctx, x.agent, q.ID)
		kind(t, err, dataport.KindForbidden, "category shipping")
		// Revoked: no more submissions under it.
		if _, err := x.rules.RevokeContract(ctx, x.supplier, c.ID, "ended by the supplier"); err != nil {
			t.Fatal(err)
		}
		changed := x.details()
		changed.Summary.En = "Monthly field output, revised"
		if _, err := x.cat.Revise(ctx, x.agent, p.ID, changed); err != nil {
			t.Fatal(err)
		}
		_, err = x.cat.Submit(ctx, x.agent, p.ID)
		kind(t, err, dataport.KindForbidden, "no certified agency contract")
	})
}

// The year-to-date counters add up completed exports; the next assessment counts
// them (R14), and a new year starts from zero.
func TestYearToDateAcrossDeals(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		x := newExchange(t, engine)
		ctx := context.Background()
		exporter := x.domestic.ParticipantID
		for _, n := range []int64{30_000, 40_000, 25_000} { // three deals this year
			err := x.db.Write(ctx, func(tx *store.Tx) error {
				if err := compliance.CountExport(tx, exporter, tx.Now(), n, 0); err != nil {
					return err
				}
				_, err := ledger.File(tx, dataport.System, ledger.Change{Type: "trade.completed", Subjects: []string{exporter}, Payload: map[string]any{"pi": n}})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		c, err := x.rules.YearToDate(ctx, x.domestic, exporter)
		if err != nil || c.PISubjects != 95_000 || c.Year != 2026 {
			t.Fatalf("counters %+v %v", c, err)
		}
		f := compliance.Facts{Direction: "export", Exporter: compliance.ExporterFacts{ID: exporter},
			Data: compliance.DataFacts{Grade: "general", Sublevel: 1, PISubjects: 6_000}}
		a, err := x.rules.WhatIf(ctx, x.domestic, f)
		if err != nil || a.Facts.PISubjectsYTD != 95_000 || !contains(a.FiredIDs(), "R6") {
			t.Fatalf("95,000 so far plus 6,000: %+v %v", a.Result, err)
		}
		// Someone else cannot look at the exporter's counters or approvals.
		_, err = x.rules.WhatIf(ctx, x.agent, f)
		kind(t, err, dataport.KindInvalid, "exporter")
		// 1 January in Shanghai (31 December 16:00 UTC): the counters restart.
		x.clock.Set(time.Date(2026, 12, 31, 16, 0, 0, 0, time.UTC))
		a, err = x.rules.WhatIf(ctx, x.domestic, f)
		if err != nil || a.Facts.PISubjectsYTD != 0 || contains(a.FiredIDs(), "R6") {
			t.Fatalf("in the new year: %+v %v", a.Result, err)
		}
	})
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Approvals: bad records are refused; the expiry queue shows what lapses within 60
// working days and contracts filed late.
func TestApprovalsAndExpiryQueue(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		x := newExchange(t, engine)
		ctx := context.Background()
		exporter := x.domestic.ParticipantID
		evidence, err := x.cat.UploadAttachment(ctx, x.operator, catalog.NewAttachment{Name: "sa.pdf", MediaType: "application/pdf"}, strings.NewReader("%PDF CAC approval"))
		if err != nil {
			t.Fatal(err)
		}
		ok := compliance.Approval{Kind: "security_assessment", Reference: "CAC-SA-2024-001", ExporterID: exporter, IssuedOn: "2024-01-15", EvidenceSHA256: evidence.SHA256}
		for name, bad := range map[string]func(a *compliance.Approval){
			"kind":            func(a *compliance.Approval) { a.Kind = "permit" },
			"issued_on":       func(a *compliance.Approval) { a.IssuedOn = "15/01/2024" },
			"evidence_sha256": func(a *compliance.Approval) { a.EvidenceSHA256 = strings.Repeat("0", 64) },
			"exporter_id":     func(a *compliance.Approval) { a.ExporterID = "prt_nobody" },
			"effective_on":    func(a *compliance.Approval) { a.Kind = "standard_contract" },
		} {
			a := ok
			bad(&a)
			_, err := x.rules.RecordApproval(ctx, x.operator, a)
			if fs := dataport.FieldsOf(err); dataport.KindOf(err) != dataport.KindInvalid || len(fs) == 0 || fs[0].Field != name {
				t.Errorf("%s: %v", name, err)
			}
		}
		_, err = x.rules.RecordApproval(ctx, x.domestic, ok) // a CAC decision, recorded by the exporter itself
		kind(t, err, dataport.KindForbidden, "operator")
		if _, err := x.rules.RecordApproval(ctx, x.operator, ok); err != nil { // lapses 2027-01-15: within 60 working days
			t.Fatal(err)
		}
		far := ok
		far.Reference, far.IssuedOn = "CAC-SA-2026-002", "2026-03-01"
		if _, err := x.rules.RecordApproval(ctx, x.operator, far); err != nil {
			t.Fatal(err)
		}
		late := compliance.Approval{Kind: "standard_contract", Reference: "SCC-31-2026-9", ExporterID: exporter, IssuedOn: "2026-10-08",
			EffectiveOn: "2026-10-09", FiledOn: "2026-11-20", EvidenceSHA256: evidence.SHA256}
		if _, err := x.rules.RecordApproval(ctx, x.operator, late); err != nil {
			t.Fatal(err)
		}
		_, err = x.rules.RecordApproval(ctx, x.operator, late)
		kind(t, err, dataport.KindConflict, "on file")
		q, err := x.rules.ExpiryQueue(ctx, x.operator)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, d := range q {
			got[d.Approval.Reference] = d.Rule + " " + d.Due
		}
		if len(got) != 2 || got["CAC-SA-2024-001"] != "R16 2027-01-15" || !strings.HasPrefix(got["SCC-31-2026-9"], "R18 ") {
			t.Fatalf("expiry queue %v", got)
		}
		_, err = x.rules.ExpiryQueue(ctx, x.domestic)
		kind(t, err, dataport.KindForbidden, "operator")
	})
}
