package compliance_test

import (
	"context"
	"strings"
	"testing"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/compliance"
	"github.com/dataport/dataport/store"
)

// PackCases runs every case of a pack and reports each: all pass for the default
// pack; a pack with a failing case is still reported case by case (the one that
// fails with why, the others passed), while Compile refuses it; a pack whose rules
// do not compile is refused as Compile refuses it.
func TestPackCases(t *testing.T) {
	cases, err := compliance.PackCases(compliance.DefaultPackSource)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 5 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		if !c.Passed || c.Outcome == "" || c.Problem != "" || c.Line == 0 {
			t.Errorf("default pack case %+v", c)
		}
	}
	if cases[0].Name != "core data is denied" || cases[0].Outcome != "deny" || !contains(cases[0].Fired, "R1") {
		t.Errorf("first case %+v", cases[0])
	}

	failing := strings.Replace(string(compliance.DefaultPackSource), "expect: {outcome: deny, fired: [R1]}", "expect: {outcome: allow, fired: [R1]}", 1)
	if _, err := compliance.Compile([]byte(failing)); err == nil {
		t.Fatal("Compile took a pack with a failing case")
	}
	cases, err = compliance.PackCases([]byte(failing))
	if err != nil {
		t.Fatal(err)
	}
	if cases[0].Passed || !strings.Contains(cases[0].Problem, "outcome deny, want allow") {
		t.Errorf("the failing case: %+v", cases[0])
	}
	for _, c := range cases[1:] {
		if !c.Passed {
			t.Errorf("case %q failed: %s", c.Name, c.Problem)
		}
	}

	broken := strings.Replace(string(compliance.DefaultPackSource), `(recipient.restricted || recipient.id`, `(recipient.restricted || || recipient.id`, 1)
	if _, err := compliance.PackCases([]byte(broken)); err == nil || !strings.Contains(err.Error(), "rule R15") {
		t.Errorf("a pack that does not compile: %v", err)
	}
	noCases := string(compliance.DefaultPackSource)[:strings.Index(string(compliance.DefaultPackSource), "\ntests:")]
	if _, err := compliance.PackCases([]byte(noCases)); err == nil || !strings.Contains(err.Error(), "none given") {
		t.Errorf("a pack without cases: %v", err)
	}
}

// StoredPackCases runs a stored pack's cases for any member; ContractsInStatus is
// the operator's queue across the exchange, refused to others.
func TestStoredPackCasesAndContractQueue(t *testing.T) {
	x := newExchange(t, store.SQLite)
	ctx := context.Background()
	packs, err := x.rules.Packs(ctx, x.operator)
	if err != nil || len(packs) != 1 {
		t.Fatalf("packs %v %v", packs, err)
	}
	cases, err := x.rules.StoredPackCases(ctx, x.domestic, packs[0].Version)
	if err != nil || len(cases) == 0 || !cases[0].Passed {
		t.Fatalf("stored cases %v %v", cases, err)
	}
	_, err = x.rules.StoredPackCases(ctx, x.domestic, "0.0.0")
	kind(t, err, dataport.KindNotFound, "no rule pack")

	c, err := x.rules.ProposeContract(ctx, x.agent, compliance.NewAgencyContract{SupplierID: x.supplier.ParticipantID,
		AgentID: x.agent.ParticipantID, Categories: []string{"energy"}, ValidFrom: "2026-11-01", ValidUntil: "2027-10-31", Terms: "代理协议"})
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []dataport.Actor{x.supplier, x.agent} {
		if _, err := x.rules.SignContract(ctx, who, c.ID, x.sign(who, c.Document)); err != nil {
			t.Fatal(err)
		}
	}
	signed, err := x.rules.ContractsInStatus(ctx, x.operator, "signed")
	if err != nil || len(signed) != 1 || signed[0].ID != c.ID || signed[0].InForce {
		t.Fatalf("signed queue %+v %v", signed, err)
	}
	if _, err := x.rules.CertifyContract(ctx, x.operator, c.ID); err != nil {
		t.Fatal(err)
	}
	if signed, _ = x.rules.ContractsInStatus(ctx, x.operator, "signed"); len(signed) != 0 {
		t.Errorf("a certified contract still awaits certification: %+v", signed)
	}
	certified, err := x.rules.ContractsInStatus(ctx, x.operator, "certified")
	if err != nil || len(certified) != 1 || !certified[0].InForce {
		t.Errorf("certified %+v %v", certified, err)
	}
	_, err = x.rules.ContractsInStatus(ctx, x.agent, "signed")
	kind(t, err, dataport.KindForbidden, "operator")
	_, err = x.rules.ContractsInStatus(ctx, x.operator, "lost")
	kind(t, err, dataport.KindInvalid, "proposed, signed")
}
