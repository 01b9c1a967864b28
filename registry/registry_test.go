package registry_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

var start = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

type env struct {
	t        testing.TB
	db       *store.DB
	reg      *registry.Service
	clock    *dataport.FixedClock
	operator dataport.Actor
	failNext *bool // makes the next commit fail, after the work and its filing
}

func setup(t testing.TB, engine store.Engine) *env {
	t.Helper()
	fail := false
	clock := dataport.NewFixedClock(start)
	db := storetest.Open(t, engine, store.Options{Clock: clock, BeforeCommit: func(context.Context) error {
		if fail {
			fail = false
			return errors.New("injected failure after the change, before commit")
		}
		return nil
	}})
	e := &env{t: t, db: db, reg: registry.New(db), clock: clock, failNext: &fail}
	_, token, created, err := e.reg.Bootstrap(context.Background(), registry.OperatorIdentity{
		LegalName: dataport.Bilingual{Zh: "测试数据交易所", En: "Test Data Exchange"}, USCC: "91110000802100433B"})
	if err != nil || !created {
		t.Fatalf("bootstrap: %v (created %v)", err, created)
	}
	if e.operator, err = e.reg.Authenticate(context.Background(), token); err != nil {
		t.Fatal(err)
	}
	return e
}

func each(t *testing.T, fn func(t *testing.T, e *env)) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) { fn(t, setup(t, engine)) })
}

func domesticBuyer() registry.NewParticipant {
	return registry.NewParticipant{LegalName: dataport.Bilingual{Zh: "深圳市腾讯计算机系统有限公司", En: "Shenzhen Tencent Computer Systems Co., Ltd."},
		Jurisdiction: "CN", Kind: registry.Domestic, USCC: "9144030071526726XG", Roles: []dataport.Role{dataport.RoleBuyer},
		Contact: registry.Contact{Name: "Wang Fang", Email: "wang.fang@example.com", Phone: "+86 755 8601 3388"}}
}

func foreignSupplier() registry.NewParticipant {
	return registry.NewParticipant{LegalName: dataport.Bilingual{En: "Nordhav Energy Data AS"}, Jurisdiction: "NO",
		Kind: registry.Foreign, RegistrationNumber: "923 456 781", Roles: []dataport.Role{dataport.RoleSupplier}}
}

func domesticAgent() registry.NewParticipant {
	return registry.NewParticipant{LegalName: dataport.Bilingual{Zh: "华为技术有限公司", En: "Huawei Technologies Co., Ltd."},
		Jurisdiction: "CN", Kind: registry.Domestic, USCC: "914403001922038216", Roles: []dataport.Role{dataport.RoleAgent}}
}

// mustUSCC completes a code from its first 17 characters (or 16 plus a digit).
func mustUSCC(first string) string {
	for len(first) < 17 {
		first += "0"
	}
	c, err := registry.CompleteUSCC(first)
	if err != nil {
		panic(err)
	}
	return c
}

func (e *env) create(n registry.NewParticipant) registry.Participant {
	e.t.Helper()
	p, err := e.reg.CreateParticipant(context.Background(), e.operator, n)
	if err != nil {
		e.t.Fatalf("create %s: %v", n.LegalName.En, err)
	}
	return p
}

// keyFor issues a key for p and returns the actor it authenticates as.
func (e *env) keyFor(p registry.Participant, roles ...dataport.Role) (dataport.Actor, string) {
	e.t.Helper()
	_, token, err := e.reg.CreateAPIKey(context.Background(), e.operator, p.ID, registry.NewAPIKey{Name: "test", Roles: roles})
	if err != nil {
		e.t.Fatal(err)
	}
	a, err := e.reg.Authenticate(context.Background(), token)
	if err != nil {
		e.t.Fatal(err)
	}
	return a, token
}

func (e *env) filings() []ledger.Filing {
	e.t.Helper()
	var out []ledger.Filing
	err := e.db.Read(context.Background(), func(tx *store.Tx) error {
		var err error
		out, err = ledger.List(tx, ledger.Filter{Limit: 1000})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.Read(context.Background(), func(tx *store.Tx) error { return tx.QueryRow(q, args...).Scan(&n) }); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func wantKind(t *testing.T, err error, kind dataport.Kind) {
	t.Helper()
	if err == nil || dataport.KindOf(err) != kind {
		t.Fatalf("err = %v, want kind %s", err, kind)
	}
}

func wantField(t *testing.T, err error, field string) {
	t.Helper()
	wantKind(t, err, dataport.KindInvalid)
	for _, f := range dataport.FieldsOf(err) {
		if f.Field == field {
			return
		}
	}
	t.Fatalf("err = %v, want a problem with %s", err, field)
}

func TestCreateParticipant(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		p := e.create(domesticBuyer())
		if p.Status != registry.Active || p.KYC.Status != registry.KYCPending || p.Version != 1 || !p.CreatedAt.Equal(start) {
			t.Fatalf("new participant: %+v", p)
		}
		got, err := e.reg.GetParticipant(ctx, e.operator, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.LegalName != p.LegalName || got.USCC != p.USCC || got.Contact != p.Contact || len(got.Roles) != 1 {
			t.Fatalf("read back %+v, want %+v", got, p)
		}
		f := e.create(foreignSupplier())
		if f.RegistrationNumber != "923 456 781" || f.USCC != "" {
			t.Fatalf("foreign participant: %+v", f)
		}

		// The same codes again: 409, naming the field.
		_, err = e.reg.CreateParticipant(ctx, e.operator, domesticBuyer())
		wantKind(t, err, dataport.KindConflict)
		if fs := dataport.FieldsOf(err); len(fs) != 1 || fs[0].Field != "uscc" {
			t.Fatalf("duplicate USCC fields: %v", fs)
		}
		_, err = e.reg.CreateParticipant(ctx, e.operator, foreignSupplier())
		wantKind(t, err, dataport.KindConflict)
		if fs := dataport.FieldsOf(err); len(fs) != 1 || fs[0].Field != "registration_number" {
			t.Fatalf("duplicate registration number fields: %v", fs)
		}
		// The same registration number in another jurisdiction is another company.
		other := foreignSupplier()
		other.Jurisdiction = "DK"
		e.create(other)
	})
}

func TestCreateParticipantRejectsBadInput(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		cases := []struct {
			name  string
			edit  func(*registry.NewParticipant)
			field string
		}{
			{"wrong check character", func(n *registry.NewParticipant) { n.USCC = "9144030071526726XA" }, "uscc"},
			{"missing USCC", func(n *registry.NewParticipant) { n.USCC = "" }, "uscc"},
			{"unknown country", func(n *registry.NewParticipant) { n.Jurisdiction = "QQ" }, "jurisdiction"},
			{"not alpha-2", func(n *registry.NewParticipant) { n.Jurisdiction = "CHN" }, "jurisdiction"},
			{"UK is not ISO", func(n *registry.NewParticipant) {
				n.Kind, n.Jurisdiction, n.USCC, n.RegistrationNumber = registry.Foreign, "UK", "", "1"
			}, "jurisdiction"},
			{"grouping is not a country", func(n *registry.NewParticipant) {
				n.Kind, n.Jurisdiction, n.USCC, n.RegistrationNumber = registry.Foreign, "EU", "", "1"
			}, "jurisdiction"},
			{"domestic abroad", func(n *registry.NewParticipant) { n.Jurisdiction = "US" }, "jurisdiction"},
			{"no kind", func(n *registry.NewParticipant) { n.Kind = "" }, "kind"},
			{"no roles", func(n *registry.NewParticipant) { n.Roles = nil }, "roles"},
			{"unknown role", func(n *registry.NewParticipant) { n.Roles = []dataport.Role{"king"} }, "roles"},
			{"operator role", func(n *registry.NewParticipant) { n.Roles = []dataport.Role{dataport.RoleOperator} }, "roles"},
			{"no Chinese name", func(n *registry.NewParticipant) { n.LegalName.Zh = " " }, "legal_name.zh"},
			{"bad e-mail", func(n *registry.NewParticipant) { n.Contact.Email = "wang at example" }, "contact.email"},
			{"bad phone", func(n *registry.NewParticipant) { n.Contact.Phone = "call me" }, "contact.phone"},
			{"bad FTZ", func(n *registry.NewParticipant) { n.FTZ = "Shanghai FTZ!" }, "ftz"},
			{"foreign with USCC", func(n *registry.NewParticipant) { n.Kind, n.Jurisdiction = registry.Foreign, "NO" }, "uscc"},
			{"foreign CIIO", func(n *registry.NewParticipant) {
				*n = foreignSupplier()
				n.CIIO = true
			}, "ciio"},
			{"foreign agent", func(n *registry.NewParticipant) {
				*n = foreignSupplier()
				n.Roles = []dataport.Role{dataport.RoleAgent}
			}, "roles"},
			{"foreign without registration number", func(n *registry.NewParticipant) {
				*n = foreignSupplier()
				n.RegistrationNumber = ""
			}, "registration_number"},
		}
		for _, c := range cases {
			n := domesticBuyer()
			c.edit(&n)
			_, err := e.reg.CreateParticipant(context.Background(), e.operator, n)
			if err == nil {
				t.Errorf("%s: accepted", c.name)
				continue
			}
			var found bool
			for _, f := range dataport.FieldsOf(err) {
				found = found || f.Field == c.field
			}
			if dataport.KindOf(err) != dataport.KindInvalid || !found {
				t.Errorf("%s: err = %v, want invalid %s", c.name, err, c.field)
			}
		}
		// Nothing was written: only the operator and its bootstrap filings exist.
		if n := e.count(`SELECT COUNT(*) FROM participants`); n != 1 {
			t.Fatalf("%d participants after bad input, want 1", n)
		}
		if n := len(e.filings()); n != 2 {
			t.Fatalf("%d filings after bad input, want the 2 of bootstrap", n)
		}
	})
}

// TestEveryMutationFilesOnceInItsTransaction runs each registry mutation twice: once
// with a failure injected after the change and its filing but before commit (neither
// may persist), and once for real (exactly one filing, of the right type).
func TestEveryMutationFilesOnceInItsTransaction(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		buyer := e.create(domesticBuyer())
		agent := e.create(domesticAgent())
		self, _ := e.keyFor(buyer)
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		var apiKeyID, signingKeyID string
		name := dataport.Bilingual{Zh: "深圳市腾讯计算机系统有限公司", En: "Tencent"}
		mutations := []struct {
			filing string
			do     func() error
		}{
			{"participant.created", func() error { _, err := e.reg.CreateParticipant(ctx, e.operator, foreignSupplier()); return err }},
			{"participant.updated", func() error {
				_, err := e.reg.UpdateParticipant(ctx, e.operator, buyer.ID, registry.ParticipantUpdate{LegalName: &name})
				return err
			}},
			{"participant.kyc_reviewed", func() error {
				_, err := e.reg.ReviewKYC(ctx, e.operator, buyer.ID, registry.KYCReview{Status: registry.KYCVerified})
				return err
			}},
			{"participant.whitelisted", func() error {
				_, err := e.reg.SetWhitelist(ctx, e.operator, agent.ID, registry.WhitelistEntry{Reference: "MOFCOM-CBDW-2026-0001", ValidUntil: "2027-12-31"})
				return err
			}},
			{"participant.whitelist_removed", func() error { _, err := e.reg.RemoveWhitelist(ctx, e.operator, agent.ID, "expired"); return err }},
			{"participant.suspended", func() error { _, err := e.reg.Suspend(ctx, e.operator, agent.ID, "KYC documents forged"); return err }},
			{"participant.resumed", func() error { _, err := e.reg.Resume(ctx, e.operator, agent.ID, "cleared"); return err }},
			{"api_key.created", func() error {
				k, _, err := e.reg.CreateAPIKey(ctx, self, buyer.ID, registry.NewAPIKey{Name: "batch jobs"})
				apiKeyID = k.ID
				return err
			}},
			{"api_key.revoked", func() error { _, err := e.reg.RevokeAPIKey(ctx, self, buyer.ID, apiKeyID); return err }},
			{"signing_key.added", func() error {
				k, err := e.reg.AddSigningKey(ctx, self, buyer.ID, registry.NewSigningKey{Name: "contracts", PublicKey: base64.StdEncoding.EncodeToString(pub)})
				signingKeyID = k.ID
				return err
			}},
			{"signing_key.revoked", func() error { _, err := e.reg.RevokeSigningKey(ctx, self, buyer.ID, signingKeyID); return err }},
		}
		for _, m := range mutations {
			before := e.filings()
			snapshot := e.state()
			*e.failNext = true
			if err := m.do(); err == nil {
				t.Fatalf("%s: the injected failure did not fail it", m.filing)
			}
			if got := e.filings(); len(got) != len(before) {
				t.Fatalf("%s: a failed transaction left a filing", m.filing)
			}
			if got := e.state(); got != snapshot {
				t.Fatalf("%s: a failed transaction left its change:\n%s\n---\n%s", m.filing, snapshot, got)
			}
			if err := m.do(); err != nil {
				t.Fatalf("%s: %v", m.filing, err)
			}
			after := e.filings()
			if len(after) != len(before)+1 {
				t.Fatalf("%s: %d filings, want exactly one", m.filing, len(after)-len(before))
			}
			if f := after[len(after)-1]; f.Type != m.filing || f.Seq != int64(len(after)) {
				t.Fatalf("filed %s #%d, want %s #%d", f.Type, f.Seq, m.filing, len(after))
			}
		}
	})
}

// state renders every registry table, to compare before and after.
func (e *env) state() string {
	e.t.Helper()
	var b strings.Builder
	err := e.db.Read(context.Background(), func(tx *store.Tx) error {
		for _, q := range []string{
			`SELECT id, legal_name_zh, legal_name_en, COALESCE(uscc, ''), kyc_status, whitelist_reference, status, version FROM participants ORDER BY id`,
			`SELECT participant_id, role, '', '', '', '', '', 0 FROM participant_roles ORDER BY participant_id, role`,
			`SELECT id, participant_id, name, roles, revoked_at, '', '', 0 FROM api_keys ORDER BY id`,
			`SELECT id, participant_id, name, public_key, revoked_at, '', '', 0 FROM signing_keys ORDER BY id`,
		} {
			rows, err := tx.Query(q)
			if err != nil {
				return err
			}
			for rows.Next() {
				var a, b2, c, d, e2, f, g string
				var v int64
				if err := rows.Scan(&a, &b2, &c, &d, &e2, &f, &g, &v); err != nil {
					rows.Close()
					return err
				}
				b.WriteString(strings.Join([]string{a, b2, c, d, e2, f, g}, "|"))
				b.WriteString("\n")
			}
			rows.Close()
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return b.String()
}

func TestPermissions(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		buyer := e.create(domesticBuyer())
		supplier := e.create(foreignSupplier())
		regulatorP := e.create(registry.NewParticipant{LegalName: dataport.Bilingual{Zh: "上海市数据监管局"},
			Jurisdiction: "CN", Kind: registry.Domestic, USCC: mustUSCC("11310000MB2F0123"), Roles: []dataport.Role{dataport.RoleRegulator}})
		asBuyer, _ := e.keyFor(buyer)
		asSupplier, _ := e.keyFor(supplier)
		asRegulator, _ := e.keyFor(regulatorP)

		// Anonymous callers are refused.
		_, err := e.reg.GetParticipant(ctx, dataport.Actor{}, buyer.ID)
		wantKind(t, err, dataport.KindUnauthorized)
		_, err = e.reg.CreateParticipant(ctx, dataport.Actor{}, domesticAgent())
		wantKind(t, err, dataport.KindUnauthorized)
		// Wrong role: 403.
		_, err = e.reg.CreateParticipant(ctx, asBuyer, domesticAgent())
		wantKind(t, err, dataport.KindForbidden)
		_, err = e.reg.Suspend(ctx, asRegulator, buyer.ID, "x")
		wantKind(t, err, dataport.KindForbidden)
		// Another tenant's record: not found.
		_, err = e.reg.GetParticipant(ctx, asBuyer, supplier.ID)
		wantKind(t, err, dataport.KindNotFound)
		_, err = e.reg.ListAPIKeys(ctx, asBuyer, supplier.ID)
		wantKind(t, err, dataport.KindNotFound)
		_, _, err = e.reg.CreateAPIKey(ctx, asBuyer, supplier.ID, registry.NewAPIKey{Name: "x"})
		wantKind(t, err, dataport.KindNotFound)
		contact := registry.Contact{Email: "x@example.com"}
		_, err = e.reg.UpdateParticipant(ctx, asSupplier, buyer.ID, registry.ParticipantUpdate{Contact: &contact})
		wantKind(t, err, dataport.KindNotFound)
		// Regulators read everything and change nothing.
		if _, err := e.reg.GetParticipant(ctx, asRegulator, supplier.ID); err != nil {
			t.Fatal(err)
		}
		_, err = e.reg.UpdateParticipant(ctx, asRegulator, buyer.ID, registry.ParticipantUpdate{Contact: &contact})
		wantKind(t, err, dataport.KindForbidden)
		// A participant sees only itself in the list, and changes only its contact.
		list, _, err := e.reg.ListParticipants(ctx, asBuyer, registry.ListFilter{})
		if err != nil || len(list) != 1 || list[0].ID != buyer.ID {
			t.Fatalf("buyer's list: %v, %v", list, err)
		}
		p, err := e.reg.UpdateParticipant(ctx, asBuyer, buyer.ID, registry.ParticipantUpdate{Contact: &contact})
		if err != nil || p.Contact != contact || p.Version != 2 {
			t.Fatalf("own contact: %+v, %v", p, err)
		}
		ciio := true
		_, err = e.reg.UpdateParticipant(ctx, asBuyer, buyer.ID, registry.ParticipantUpdate{CIIO: &ciio})
		wantKind(t, err, dataport.KindForbidden)
		// A key cannot carry a role its participant does not hold.
		_, _, err = e.reg.CreateAPIKey(ctx, asBuyer, buyer.ID, registry.NewAPIKey{Name: "x", Roles: []dataport.Role{dataport.RoleOperator}})
		wantField(t, err, "roles")
		// The operator cannot be suspended.
		_, err = e.reg.Suspend(ctx, e.operator, e.operator.ParticipantID, "no")
		wantKind(t, err, dataport.KindConflict)
	})
}

func TestSuspension(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		buyer := e.create(domesticBuyer())
		asBuyer, _ := e.keyFor(buyer)
		contact := registry.Contact{Email: "new@example.com"}

		p, err := e.reg.Suspend(ctx, e.operator, buyer.ID, "suspected resale of personal data")
		if err != nil || p.Status != registry.Suspended || p.Suspension == nil || p.Suspension.By != e.operator.ParticipantID {
			t.Fatalf("suspend: %+v, %v", p, err)
		}
		_, err = e.reg.Suspend(ctx, e.operator, buyer.ID, "again")
		wantKind(t, err, dataport.KindConflict)

		// At once: its next change is refused, everywhere CheckActive is asked.
		_, err = e.reg.UpdateParticipant(ctx, asBuyer, buyer.ID, registry.ParticipantUpdate{Contact: &contact})
		wantKind(t, err, dataport.KindForbidden)
		_, _, err = e.reg.CreateAPIKey(ctx, asBuyer, buyer.ID, registry.NewAPIKey{Name: "escape"})
		wantKind(t, err, dataport.KindForbidden)
		wantKind(t, e.reg.Active(ctx, buyer.ID), dataport.KindForbidden)
		// Its own records stay readable.
		got, err := e.reg.GetParticipant(ctx, asBuyer, buyer.ID)
		if err != nil || got.Suspension == nil || got.Suspension.Reason != "suspected resale of personal data" {
			t.Fatalf("read own record while suspended: %+v, %v", got, err)
		}

		if _, err := e.reg.Resume(ctx, e.operator, buyer.ID, "investigation closed"); err != nil {
			t.Fatal(err)
		}
		_, err = e.reg.Resume(ctx, e.operator, buyer.ID, "")
		wantKind(t, err, dataport.KindConflict)
		if _, err := e.reg.UpdateParticipant(ctx, asBuyer, buyer.ID, registry.ParticipantUpdate{Contact: &contact}); err != nil {
			t.Fatalf("after resume: %v", err)
		}
		var types []string
		for _, f := range e.filings() {
			for _, s := range f.Subjects {
				if s == buyer.ID {
					types = append(types, f.Type)
				}
			}
		}
		want := "participant.created api_key.created participant.suspended participant.resumed participant.updated"
		if strings.Join(types, " ") != want {
			t.Fatalf("filings about the buyer: %v, want %s", types, want)
		}
	})
}

func TestAuthenticate(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		buyer := e.create(registry.NewParticipant{LegalName: dataport.Bilingual{Zh: "华为技术有限公司"}, Jurisdiction: "CN",
			Kind: registry.Domestic, USCC: "914403001922038216", Roles: []dataport.Role{dataport.RoleBuyer, dataport.RoleMerchant}})
		k, token, err := e.reg.CreateAPIKey(ctx, e.operator, buyer.ID, registry.NewAPIKey{Name: "ci", ExpiresAt: start.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if n := e.count(`SELECT COUNT(*) FROM api_keys WHERE secret_sha256 LIKE $1`, "%"+strings.Split(token, ".")[2]+"%"); n != 0 {
			t.Fatal("the secret is stored in clear")
		}
		a, err := e.reg.Authenticate(ctx, token)
		if err != nil || a.ParticipantID != buyer.ID || a.KeyID != k.ID || len(a.Roles) != 2 {
			t.Fatalf("authenticate: %+v, %v", a, err)
		}
		for _, bad := range []string{"", "nope", "dp.", "dp." + k.ID, "dp." + k.ID + ".wrong", "dp.key_unknown." + strings.Split(token, ".")[2], token + "x"} {
			_, err := e.reg.Authenticate(ctx, bad)
			wantKind(t, err, dataport.KindUnauthorized)
		}
		// A role removed from the participant leaves its keys at once.
		roles := []dataport.Role{dataport.RoleBuyer}
		if _, err := e.reg.UpdateParticipant(ctx, e.operator, buyer.ID, registry.ParticipantUpdate{Roles: roles}); err != nil {
			t.Fatal(err)
		}
		if a, _ := e.reg.Authenticate(ctx, token); len(a.Roles) != 1 || a.Roles[0] != dataport.RoleBuyer {
			t.Fatalf("roles after the participant lost merchant: %v", a.Roles)
		}
		// Expiry and revocation.
		e.clock.Advance(time.Hour)
		_, err = e.reg.Authenticate(ctx, token)
		wantKind(t, err, dataport.KindUnauthorized)
		_, token2, _ := e.reg.CreateAPIKey(ctx, e.operator, buyer.ID, registry.NewAPIKey{Name: "second"})
		k2, _ := e.reg.Authenticate(ctx, token2)
		if _, err := e.reg.RevokeAPIKey(ctx, e.operator, buyer.ID, k2.KeyID); err != nil {
			t.Fatal(err)
		}
		_, err = e.reg.Authenticate(ctx, token2)
		wantKind(t, err, dataport.KindUnauthorized)
		_, _, err = e.reg.CreateAPIKey(ctx, e.operator, buyer.ID, registry.NewAPIKey{Name: "late", ExpiresAt: start})
		wantField(t, err, "expires_at")
	})
}

func TestWhitelistAndKYC(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		agent := e.create(domesticAgent())
		buyer := e.create(domesticBuyer())
		_, err := e.reg.SetWhitelist(ctx, e.operator, buyer.ID, registry.WhitelistEntry{Reference: "W-1", ValidUntil: "2027-01-01"})
		wantKind(t, err, dataport.KindConflict)
		_, err = e.reg.SetWhitelist(ctx, e.operator, agent.ID, registry.WhitelistEntry{Reference: "W-1", ValidUntil: "2026-11-24"})
		wantField(t, err, "valid_until")
		_, err = e.reg.SetWhitelist(ctx, e.operator, agent.ID, registry.WhitelistEntry{Reference: "", ValidUntil: "31/12/2027"})
		wantField(t, err, "reference")
		p, err := e.reg.SetWhitelist(ctx, e.operator, agent.ID, registry.WhitelistEntry{Reference: "MOFCOM-CBDW-2026-0187", ValidUntil: "2026-12-31"})
		if err != nil || !p.Whitelisted(start) {
			t.Fatalf("whitelist: %+v, %v", p, err)
		}
		if p.Whitelisted(time.Date(2026, 12, 31, 16, 0, 0, 0, time.UTC)) {
			t.Fatal("the entry is still in force on 1 January in China")
		}
		// The agent role cannot be dropped while the agent is whitelisted.
		_, err = e.reg.UpdateParticipant(ctx, e.operator, agent.ID, registry.ParticipantUpdate{Roles: []dataport.Role{dataport.RoleSupplier}})
		wantField(t, err, "roles")

		_, err = e.reg.ReviewKYC(ctx, e.operator, buyer.ID, registry.KYCReview{Status: registry.KYCRejected})
		wantField(t, err, "note")
		p, err = e.reg.ReviewKYC(ctx, e.operator, buyer.ID, registry.KYCReview{Status: registry.KYCVerified, Note: "licence checked"})
		if err != nil || p.KYC.Status != registry.KYCVerified || p.KYC.ReviewedBy != e.operator.ParticipantID || !p.KYC.ReviewedAt.Equal(start) {
			t.Fatalf("kyc: %+v, %v", p.KYC, err)
		}
	})
}

func TestListParticipants(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		buyer := e.create(domesticBuyer())
		supplier := e.create(foreignSupplier())
		agent := e.create(domesticAgent())
		check := func(f registry.ListFilter, want ...string) {
			t.Helper()
			got, _, err := e.reg.ListParticipants(ctx, e.operator, f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, p := range got {
				ids = append(ids, p.ID)
			}
			if strings.Join(ids, ",") != strings.Join(want, ",") {
				t.Errorf("%+v: got %v, want %v", f, ids, want)
			}
		}
		check(registry.ListFilter{Role: dataport.RoleBuyer}, buyer.ID)
		check(registry.ListFilter{Kind: registry.Foreign}, supplier.ID)
		check(registry.ListFilter{Query: "腾讯"}, buyer.ID)
		check(registry.ListFilter{Query: "HUAWEI"}, agent.ID)
		check(registry.ListFilter{Query: "100%"})
		check(registry.ListFilter{Jurisdiction: "NO"}, supplier.ID)
		e.reg.Suspend(ctx, e.operator, agent.ID, "test")
		check(registry.ListFilter{Status: registry.Suspended}, agent.ID)
		// Paging walks everyone exactly once.
		var seen []string
		after := ""
		for {
			page, next, err := e.reg.ListParticipants(ctx, e.operator, registry.ListFilter{After: after, Limit: 2})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range page {
				seen = append(seen, p.ID)
			}
			if next == "" {
				break
			}
			after = next
		}
		if len(seen) != 4 {
			t.Fatalf("paged through %d participants, want 4", len(seen))
		}
	})
}

func TestSigningKeys(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		buyer := e.create(domesticBuyer())
		other := e.create(foreignSupplier())
		asBuyer, _ := e.keyFor(buyer)
		asOther, _ := e.keyFor(other)
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		k, err := e.reg.AddSigningKey(ctx, asBuyer, buyer.ID, registry.NewSigningKey{Name: "contracts", PublicKey: base64.RawURLEncoding.EncodeToString(pub)})
		if err != nil {
			t.Fatal(err)
		}
		if k.ID != registry.SigningKeyID(pub) || !strings.HasPrefix(k.ID, "ed25519:") || len(k.ID) != len("ed25519:")+16 {
			t.Fatalf("key id %q", k.ID)
		}
		_, err = e.reg.AddSigningKey(ctx, asBuyer, buyer.ID, registry.NewSigningKey{Name: "again", PublicKey: base64.StdEncoding.EncodeToString(pub)})
		wantKind(t, err, dataport.KindConflict)
		_, err = e.reg.AddSigningKey(ctx, asBuyer, buyer.ID, registry.NewSigningKey{Name: "short", PublicKey: base64.StdEncoding.EncodeToString(pub[:31])})
		wantField(t, err, "public_key")
		_, err = e.reg.AddSigningKey(ctx, asBuyer, buyer.ID, registry.NewSigningKey{Name: "junk", PublicKey: "not base64!"})
		wantField(t, err, "public_key")
		_, err = e.reg.AddSigningKey(ctx, asOther, buyer.ID, registry.NewSigningKey{Name: "theirs", PublicKey: base64.StdEncoding.EncodeToString(pub)})
		wantKind(t, err, dataport.KindNotFound)
		// Counterparties read public keys to verify signatures.
		keys, err := e.reg.ListSigningKeys(ctx, asOther, buyer.ID)
		if err != nil || len(keys) != 1 || keys[0].PublicKey != base64.StdEncoding.EncodeToString(pub) {
			t.Fatalf("list: %v, %v", keys, err)
		}
		if _, err := e.reg.RevokeSigningKey(ctx, asBuyer, buyer.ID, k.ID); err != nil {
			t.Fatal(err)
		}
		keys, _ = e.reg.ListSigningKeys(ctx, asOther, buyer.ID)
		if keys[0].RevokedAt.IsZero() {
			t.Fatal("revoked key is not marked revoked")
		}
	})
}

func TestBootstrapOnce(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		before := len(e.filings())
		_, token, created, err := e.reg.Bootstrap(context.Background(), registry.OperatorIdentity{LegalName: dataport.Bilingual{Zh: "另一个"}})
		if err != nil || created || token != "" {
			t.Fatalf("second bootstrap: created %v, token %q, err %v", created, token, err)
		}
		if len(e.filings()) != before {
			t.Fatal("second bootstrap filed something")
		}
	})
}

func TestFiledParticipantHidesContact(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.create(domesticBuyer())
		fs := e.filings()
		last := string(fs[len(fs)-1].Entry)
		if strings.Contains(last, "wang.fang@example.com") || strings.Contains(last, "Wang Fang") || !strings.Contains(last, "contact_sha256") {
			t.Fatalf("the public filing carries personal data: %s", last)
		}
	})
}
