package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/dataport/dataport/compliance"
)

// The what-if of CROSS-BORDER-RULES R6 and R13, through the API: 150,000 people's PI
// from a non-CIIO with nothing on file needs a contract or certification and the R13
// evidence; a certification satisfies R6; the evidence makes it allow.
func TestComplianceWhatIf(t *testing.T) {
	each(t, func(t *testing.T, x *exchange) {
		exporter, key := x.createWithKey(with(tencent, "roles", []string{"supplier"}))
		facts := map[string]any{"direction": "export", "exporter": map[string]any{"id": exporter},
			"recipient": map[string]any{"jurisdiction": "SG"}, "purpose": "other",
			"data": map[string]any{"grade": "general", "sublevel": 2, "pi_subjects": 150000, "sensitive_pi_subjects": 0}}
		assess := func() map[string]any {
			t.Helper()
			r := x.do("POST", "/api/v1/compliance/assessments", key, map[string]any{"facts": facts})
			wantStatus(t, r, http.StatusOK)
			return r.json(t)
		}
		requirement := func(a map[string]any, id string) map[string]any {
			for _, r := range a["requirements"].([]any) {
				if r.(map[string]any)["id"] == id {
					return r.(map[string]any)
				}
			}
			t.Fatalf("no requirement %s in %v", id, a["requirements"])
			return nil
		}
		a := assess()
		if a["outcome"] != "require" || a["pack_version"] == "" {
			t.Fatalf("assessment: %v", a)
		}
		r6 := requirement(a, "contract_or_certification")
		if r6["satisfied"] != false || fmt.Sprint(r6["rules"]) != "[R6]" || fmt.Sprint(requirement(a, "pi_protection")["rules"]) != "[R13]" {
			t.Fatalf("requirements: %v", a["requirements"])
		}
		reasons := a["reasons"].(map[string]any)
		en, zh := fmt.Sprint(reasons["en"]), fmt.Sprint(reasons["zh"])
		if !strings.Contains(en, "R6: ") || !strings.Contains(en, "R13: ") || !strings.Contains(zh, "R6：") || !strings.Contains(zh, "标准合同") {
			t.Fatalf("reasons: %v", reasons)
		}

		// Bad facts: 400 naming the field; nothing assessed.
		bad := with(facts, "data", map[string]any{"grade": "secret", "sublevel": 2, "pi_subjects": -1, "sensitive_pi_subjects": 0})
		wantProblem(t, x.do("POST", "/api/v1/compliance/assessments", key, map[string]any{"facts": bad}), http.StatusBadRequest, "facts.data.grade")
		wantProblem(t, x.do("POST", "/api/v1/compliance/assessments", key, map[string]any{"facts": with(facts, "direction", "")}), http.StatusBadRequest, "facts.direction")
		wantProblem(t, x.do("POST", "/api/v1/compliance/assessments", key, map[string]any{"facts": with(facts, "purpose", "espionage")}), http.StatusBadRequest, "")

		// The operator records the certification, with its evidence.
		cert := x.upload("POST", "/api/v1/attachments?name=cert.pdf", x.operator, "application/pdf", []byte("%PDF PI export certification CERT-2026-001"))
		wantStatus(t, cert, http.StatusCreated)
		wantProblem(t, x.do("POST", "/api/v1/compliance/approvals", key, map[string]any{"kind": "pi_certification", "reference": "CERT-2026-001",
			"exporter_id": exporter, "issued_on": "2026-01-15", "evidence_sha256": cert.json(t)["sha256"]}), http.StatusForbidden, "")
		rec := x.do("POST", "/api/v1/compliance/approvals", x.operator, map[string]any{"kind": "pi_certification", "reference": "CERT-2026-001",
			"exporter_id": exporter, "issued_on": "2026-01-15", "evidence_sha256": cert.json(t)["sha256"]})
		wantStatus(t, rec, http.StatusCreated)
		a = assess()
		if r6 := requirement(a, "contract_or_certification"); r6["satisfied"] != true || a["outcome"] != "require" {
			t.Fatalf("with the certification: %v", a)
		}
		// The exporter files its own R13 evidence.
		for _, kind := range []string{"pipia_report", "notice_declaration", "consent_declaration"} {
			doc := x.upload("POST", "/api/v1/attachments?name="+kind+".pdf", key, "application/pdf", []byte("%PDF "+kind))
			wantStatus(t, doc, http.StatusCreated)
			wantStatus(t, x.do("POST", "/api/v1/compliance/approvals", key, map[string]any{"kind": kind, "reference": strings.ToUpper(kind) + "-1",
				"exporter_id": exporter, "issued_on": "2026-03-01", "evidence_sha256": doc.json(t)["sha256"]}), http.StatusCreated)
		}
		if a = assess(); a["outcome"] != "allow" {
			t.Fatalf("with everything on file: %v", a)
		}
		if l := x.do("GET", "/api/v1/participants/"+exporter+"/approvals", key, nil).json(t)["items"].([]any); len(l) != 4 {
			t.Fatalf("approvals: %v", l)
		}
	})
}

// A pack with a CEL syntax error is refused naming the rule; the active pack stays.
func TestRulePackUpload(t *testing.T) {
	each(t, func(t *testing.T, x *exchange) {
		packs := x.do("GET", "/api/v1/compliance/packs", x.operator, nil).json(t)["items"].([]any)
		if len(packs) != 1 || packs[0].(map[string]any)["status"] != "active" {
			t.Fatalf("packs: %v", packs)
		}
		active := packs[0].(map[string]any)["version"].(string)
		src := string(compliance.DefaultPackSource)
		broken := strings.Replace(strings.Replace(src, `version: "2026.11.1"`, `version: "2026.12.1"`, 1),
			`recipient.id in pack.restricted_recipients)`, `recipient.id in pack.restricted_recipients))`, 1)
		up := func(key, body string) response {
			return x.upload("POST", "/api/v1/compliance/packs", key, "application/yaml", []byte(body))
		}
		p := wantProblem(t, up(x.operator, broken), http.StatusBadRequest, "source: rule R15")
		if !strings.Contains(p["detail"].(string), "line") || !strings.Contains(p["detail"].(string), "Syntax error") {
			t.Fatalf("problem: %v", p)
		}
		_, supplierKey := x.createWithKey(with(tencent, "roles", []string{"supplier"}))
		wantProblem(t, up(supplierKey, src), http.StatusForbidden, "")
		if n := x.count("rule_packs"); n != 1 {
			t.Fatalf("%d packs after refusals", n)
		}
		// A good new version uploads, then activates; the old one retires.
		next := strings.Replace(src, `version: "2026.11.1"`, `version: "2026.12.1"`, 1)
		next = strings.Replace(next, "contract_pi: 100000", "contract_pi: 100000 # unchanged, re-issued", 1)
		wantStatus(t, up(x.operator, next), http.StatusCreated)
		wantProblem(t, up(x.operator, next), http.StatusConflict, "")
		wantStatus(t, x.do("POST", "/api/v1/compliance/packs/2026.12.1/activate", x.operator, nil), http.StatusOK)
		packs = x.do("GET", "/api/v1/compliance/packs", x.operator, nil).json(t)["items"].([]any)
		status := map[string]any{}
		for _, p := range packs {
			status[p.(map[string]any)["version"].(string)] = p.(map[string]any)["status"]
		}
		if status["2026.12.1"] != "active" || status[active] != "retired" {
			t.Fatalf("after activation: %v", status)
		}
		src2 := x.do("GET", "/api/v1/compliance/packs/2026.12.1", supplierKey, nil)
		if src2.status != http.StatusOK || !strings.Contains(string(src2.body), "re-issued") {
			t.Fatalf("pack source: %d", src2.status)
		}
		filings := x.do("GET", "/api/v1/filings?type=compliance.pack_activated", x.operator, nil)
		if !strings.Contains(string(filings.body), "2026.12.1") {
			t.Fatalf("activation not filed: %s", filings.body)
		}
	})
}

func TestAgencyContractEndpoints(t *testing.T) {
	each(t, func(t *testing.T, x *exchange) {
		id, key := x.createWithKey(with(tencent, "roles", []string{"agent"}))
		wantProblem(t, x.do("POST", "/api/v1/agency-contracts", key, map[string]any{"supplier_id": "prt_x", "agent_id": id,
			"categories": []string{"energy"}, "valid_from": "2027-01-01", "valid_until": "2026-01-01"}), http.StatusBadRequest, "valid_until")
		wantProblem(t, x.do("POST", "/api/v1/agency-contracts", key, map[string]any{"supplier_id": "prt_x", "agent_id": id,
			"categories": []string{"energy"}, "valid_from": "2026-01-01", "valid_until": "2027-01-01"}), http.StatusBadRequest, "supplier_id")
		if x.count("agency_contracts") != 0 {
			t.Fatal("a refused contract was stored")
		}
		wantProblem(t, x.do("GET", "/api/v1/agency-contracts/agc_nosuch", key, nil), http.StatusNotFound, "")
		wantProblem(t, x.do("POST", "/api/v1/agency-contracts/agc_nosuch/certify", key, nil), http.StatusForbidden, "")
		if l := x.do("GET", "/api/v1/participants/"+id+"/agency-contracts", key, nil).json(t)["items"].([]any); len(l) != 0 {
			t.Fatalf("contracts: %v", l)
		}
	})
}
