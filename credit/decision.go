package credit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"time"

	"github.com/dataport/dataport"
	"github.com/gowebpki/jcs"
)

// Decision is a credit decision (授信決策): a merchant's score, risk grade and
// credit line as of a moment, with everything needed to check it later — the
// model, the inputs and their hash, the attested data they rest on, the reasons
// and the line's basis.
type Decision struct {
	ID          string         `json:"id"`
	MerchantID  string         `json:"merchant_id"`
	DecidedAt   time.Time      `json:"decided_at" doc:"also the moment the features were computed at"`
	DecidedBy   string         `json:"decided_by" doc:"the participant that asked: the merchant or the operator"`
	Model       ModelRef       `json:"model"`
	FeatureHash string         `json:"feature_hash" doc:"SHA-256 of the RFC 8785 canonical JSON of {inputs, data_through, model: the model id}"`
	DataThrough int64          `json:"data_through" doc:"the filing of the merchant's latest attested batch or chunk: the data the inputs rest on"`
	Inputs      map[string]any `json:"inputs" doc:"the model's characteristics (see InputNames); null for a missing value"`
	Score       int64          `json:"score" doc:"the scorecard's points, rounded: higher is safer"`
	PD          float64        `json:"pd" doc:"probability of default over the next 6 months, from the points"`
	Grade       RiskGrade      `json:"grade" enum:"A,B,C,D,E" doc:"the master scale's band of the PD"`
	Reasons     []Reason       `json:"reasons" doc:"at most four: the characteristics that cost most points"`
	Line        dataport.Money `json:"line" doc:"the credit line, CNY minor units"`
	LineBasis   LineBasis      `json:"line_basis"`
	FilingSeq   int64          `json:"filing_seq" doc:"the credit.decided filing"`
}

// ModelRef names the sealed scorecard a decision used.
type ModelRef struct {
	ID      string `json:"id" doc:"the model's content id: SHA-256 of its canonical JSON"`
	Version string `json:"version"`
}

// Reason is a reason code: a characteristic on which the merchant scored below
// the best attribute, and by how much.
type Reason struct {
	Characteristic string  `json:"characteristic"`
	Value          any     `json:"value" doc:"the input; null when missing"`
	Bin            string  `json:"bin" doc:"the attribute it fell in"`
	Points         float64 `json:"points"`
	PointsLost     float64 `json:"points_lost" doc:"against the best attribute of the characteristic"`
}

// FeatureHash is the hash a decision carries of what it was computed from: the
// hex SHA-256 of the RFC 8785 canonical JSON of {"inputs": inputs,
// "data_through": dataThrough, "model": modelID}. Anyone holding a decision
// recomputes it from the decision's own fields.
func FeatureHash(inputs map[string]any, dataThrough int64, modelID string) (string, error) {
	raw, err := json.Marshal(map[string]any{"inputs": inputs, "data_through": dataThrough, "model": modelID})
	if err != nil {
		return "", err
	}
	canon, err := jcs.Transform(raw)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:]), nil
}

// DecisionHash is the hash the credit.decided filing carries of a decision: the
// hex SHA-256 of the RFC 8785 canonical JSON of the decision as stored, less its
// filing_seq (the filing is made from the hash, so cannot be in it). Whoever is
// shown a decision — the merchant, a regulator, an institution under the
// merchant's consent — checks it against the log with this.
func DecisionHash(d Decision) (string, error) {
	d.FilingSeq = 0
	raw, err := json.Marshal(d)
	if err != nil {
		return "", err
	}
	canon, err := jcs.Transform(raw)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:]), nil
}

// filed is what the credit.decided filing carries. The log is public (anyone may
// read its entries), so the filing names the decision, the model and the data it
// rests on, and commits to the rest — score, grade, PD, line and reasons — by
// DecisionHash without showing it: who sees a merchant's score is the merchant's
// to say (its consent, in lending), and the log must not say it for it.
func (d *Decision) filed() (map[string]any, error) {
	sum, err := DecisionHash(*d)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"merchant_id": d.MerchantID, "decision_id": d.ID, "model_id": d.Model.ID, "model_version": d.Model.Version,
		"feature_hash": d.FeatureHash, "data_through": d.DataThrough, "decision_sha256": sum,
	}, nil
}

// round2 rounds points to hundredths: finer says nothing, and the stored
// decision reads better.
func round2(x float64) float64 { return math.Round(x*100) / 100 }
