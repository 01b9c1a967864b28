package compliance

import (
	"context"
	"fmt"
	"time"

	"github.com/dataport/dataport"
	"go.yaml.in/yaml/v3"
)

// CaseResult is one of a pack's own test cases as run against the pack: what the
// operator reads before activating a pack (and, for a refused one, which case
// failed and why, beside the others that passed).
type CaseResult struct {
	Name    string   `json:"name"`
	Line    int      `json:"line"`
	Outcome string   `json:"outcome,omitempty" doc:"the outcome the rules gave"`
	Fired   []string `json:"fired,omitempty"`
	Passed  bool     `json:"passed"`
	Problem string   `json:"problem,omitempty" doc:"why the case failed"`
}

// PackCases compiles a pack without stopping at its first failing case and runs
// every case, reporting each. A pack that does not compile (its rules, its
// requirements, its data) is refused with the *PackError Compile gives; a pack
// whose cases fail compiles here, and Compile (hence UploadPack) refuses it.
func PackCases(src []byte) ([]CaseResult, error) {
	p, err := compile(src, false)
	if err != nil {
		return nil, err
	}
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, &PackError{Msg: "not YAML: " + err.Error()}
	}
	tests := field(root.Content[0], "tests")
	if tests == nil || tests.Kind != yaml.SequenceNode || len(tests.Content) == 0 {
		return nil, &PackError{Msg: "tests: a pack carries test cases; none given"}
	}
	out := make([]CaseResult, 0, len(tests.Content))
	for i, tn := range tests.Content {
		out = append(out, p.runCase(i, tn))
	}
	return out, nil
}

// runCase runs one case as runTests does, reporting instead of refusing.
func (p *Pack) runCase(i int, tn *yaml.Node) CaseResult {
	r := CaseResult{Line: tn.Line, Name: fmt.Sprintf("test %d", i+1)}
	fail := func(msg string) CaseResult { r.Problem = msg; return r }
	if err := checkKeys(tn, "", "name", "facts", "approvals", "today", "expect"); err != nil {
		return fail(err.Error())
	}
	tc := testCase{line: tn.Line, Today: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}
	if nm := field(tn, "name"); nm != nil {
		r.Name = nm.Value
	}
	f := field(tn, "facts")
	if f == nil {
		return fail("facts: required")
	}
	if err := strictJSON(f, &tc.Facts); err != nil {
		return fail("facts: " + err.Error())
	}
	var probs dataport.Problems
	tc.Facts.validate(&probs)
	if len(probs) > 0 {
		return fail(fmt.Sprintf("facts: %s: %s", probs[0].Field, probs[0].Message))
	}
	if a := field(tn, "approvals"); a != nil {
		if err := strictJSON(a, &tc.Approvals); err != nil {
			return fail("approvals: " + err.Error())
		}
	}
	if t := field(tn, "today"); t != nil {
		d, err := time.Parse(time.DateOnly, t.Value)
		if err != nil {
			return fail("today: a date, YYYY-MM-DD")
		}
		tc.Today = d
	}
	e := field(tn, "expect")
	if e == nil {
		return fail("expect: required")
	}
	if err := strictJSON(e, &tc.Expect); err != nil {
		return fail("expect: " + err.Error())
	}
	res, err := p.Evaluate(&tc.Facts, tc.Approvals, tc.Today)
	if err != nil {
		return fail(err.Error())
	}
	r.Outcome, r.Fired = res.Outcome, res.FiredIDs()
	if msg := tc.check(res); msg != "" {
		return fail(msg)
	}
	r.Passed = true
	return r
}

// StoredPackCases runs the cases of a stored pack (PackSource's reader rules: any
// authenticated participant).
func (s *Service) StoredPackCases(ctx context.Context, actor dataport.Actor, version string) ([]CaseResult, error) {
	src, err := s.PackSource(ctx, actor, version)
	if err != nil {
		return nil, err
	}
	cases, err := PackCases(src)
	if err != nil {
		return nil, packProblem("compliance.StoredPackCases", err)
	}
	return cases, nil
}

// ContractsInStatus lists every agency contract in one status across the exchange,
// oldest first: the operator's queue of signed contracts awaiting certification
// (R22), and of certified ones to watch. Operator and regulators.
func (s *Service) ContractsInStatus(ctx context.Context, actor dataport.Actor, status string) ([]AgencyContract, error) {
	const op = "compliance.ContractsInStatus"
	if actor.Anonymous() {
		return nil, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	if !actor.Has(dataport.RoleOperator, dataport.RoleRegulator) {
		return nil, dataport.Errorf(op, dataport.KindForbidden, "the exchange's contract queue is the operator's")
	}
	switch status {
	case "proposed", "signed", "certified", "revoked":
	default:
		return nil, dataport.Invalid(op, dataport.FieldProblem{Field: "status", Message: "proposed, signed, certified or revoked"})
	}
	return s.queryContracts(ctx, op, `status = $1`, status)
}
