package lending_test

import (
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/lending"
)

// TestInstitutions: a merchant learns the institutions it may consent to — the
// active ones, named — and a suspended one drops out, as GrantConsent would refuse
// it; a participant outside lending is refused.
func TestInstitutions(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		names := func(actor dataport.Actor) []string {
			t.Helper()
			list, err := e.svc.Institutions(e.ctx, actor)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, in := range list {
				out = append(out, in.ID+" "+in.LegalName.Zh)
			}
			return out
		}
		a := e.bankA.ParticipantID + " 上海浦江银行股份有限公司"
		b := e.bankB.ParticipantID + " 华东小额贷款有限公司"
		want := []string{a, b}
		if e.bankB.ParticipantID < e.bankA.ParticipantID {
			want = []string{b, a}
		}
		if got := names(e.merchant); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
			t.Fatalf("institutions: %q, want %q", got, want)
		}
		if _, err := e.reg.Suspend(e.ctx, e.operator, e.bankB.ParticipantID, "capital adequacy review"); err != nil {
			t.Fatal(err)
		}
		if got := names(e.merchant); len(got) != 1 || got[0] != a {
			t.Fatalf("with bank B suspended: %q", got)
		}
		// What the list offers, a consent takes; what it leaves out, a consent refuses.
		exp := e.clock.Now().Add(30 * 24 * time.Hour)
		if _, err := e.svc.GrantConsent(e.ctx, e.merchant, e.merchant.ParticipantID, lending.NewConsent{Scope: []lending.Scope{lending.ScopeScore},
			Institutions: []string{e.bankB.ParticipantID}, ExpiresAt: exp}); dataport.KindOf(err) != dataport.KindInvalid {
			t.Fatalf("a consent to the suspended bank: %v", err)
		}
		buyer := dataport.Actor{ParticipantID: e.merchant.ParticipantID, Roles: []dataport.Role{dataport.RoleBuyer}}
		if _, err := e.svc.Institutions(e.ctx, buyer); dataport.KindOf(err) != dataport.KindForbidden {
			t.Fatalf("as a buyer: %v", err)
		}
	})
}
