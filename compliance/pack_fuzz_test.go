package compliance_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"slices"
	"testing"

	"github.com/dataport/dataport/compliance"
)

// smallPack is a pack of two rules and two cases: small enough that mutations of
// it reach every part of the compiler quickly.
const smallPack = `version: "t.1"
data:
  threshold: 100
  holidays: [2026-01-01]
requirements:
  - id: contract
    name: {en: "Standard contract", zh: "标准合同"}
    any_of: [[standard_contract]]
    exemptible: true
rules:
  - id: R1
    when: direction == "export" && data.grade == "core"
    outcome: deny
    reason: {en: "Core data does not leave.", zh: "核心数据不得出境。"}
    source: "DSL art. 31"
  - id: R2
    when: direction == "export" && data.pi_subjects >= pack.threshold
    requires: [contract]
    reason: {en: "Many subjects need a contract.", zh: "需要标准合同。"}
    source: "SCC Measures art. 4"
tests:
  - name: core
    facts: {direction: export, data: {grade: core, pi_subjects: 0, sensitive_pi_subjects: 0}}
    expect: {outcome: deny, fired: [R1]}
  - name: many
    facts: {direction: export, data: {grade: general, sublevel: 1, pi_subjects: 150, sensitive_pi_subjects: 0}}
    expect: {outcome: require, fired: [R2]}
`

var (
	packVersion = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	packRuleID  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,63}$`)
)

// A rule pack of any bytes an operator uploads compiles or is refused with a
// *PackError (which the service reports as invalid input; anything else would be an
// internal error); a pack that compiles has a valid version and distinct, valid
// rule ids, is attested by the SHA-256 of its source, and compiles again from its
// kept source to the same rules.
func FuzzCompile(f *testing.F) {
	f.Add([]byte(smallPack))
	f.Add(compliance.DefaultPackSource)
	f.Add([]byte("version: 1\n"))
	f.Add([]byte("version: \"1\"\nrules:\n  - id: R1\n    when: '1 +'\n"))
	f.Add([]byte("- a\n- b\n"))
	f.Add([]byte("version: x\ndata: {holidays: [2026-02-30]}\n"))
	f.Add([]byte("version: x\nrules: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := compliance.Compile(src)
		if err != nil {
			var pe *compliance.PackError
			if !errors.As(err, &pe) || pe.Msg == "" || pe.Line < 0 {
				t.Fatalf("refused with %#v, not a PackError", err)
			}
			return
		}
		if !packVersion.MatchString(p.Version) {
			t.Fatalf("compiled with version %q", p.Version)
		}
		ids := p.Rules()
		for i, id := range ids {
			if !packRuleID.MatchString(id) || slices.Contains(ids[:i], id) {
				t.Fatalf("compiled with rules %q", ids)
			}
		}
		if sum := sha256.Sum256(src); p.SHA256 != hex.EncodeToString(sum[:]) || string(p.Source) != string(src) {
			t.Fatal("the pack does not keep its source and its hash")
		}
		again, err := compliance.Compile(p.Source)
		if err != nil || !slices.Equal(again.Rules(), ids) || again.Version != p.Version {
			t.Fatalf("compiled once with %q, again with %v", ids, err)
		}
	})
}
