package credit

import (
	"bytes"
	_ "embed"
	"slices"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/scorecard"
)

// The committed model: the scorecard DefaultModelSpec trains, sealed. Rebuild it
// with go generate (the test TestCommittedModelIsReproducible checks that
// retraining gives exactly these bytes).
//
//go:generate go run ./internal/genmodel -out models/merchant.json
//go:embed models/merchant.json
var modelArtifact []byte

// DefaultModel loads the committed model, checking that its content matches its id.
func DefaultModel() (*scorecard.Model, error) {
	return scorecard.Load(bytes.NewReader(modelArtifact))
}

// ModelArtifact returns the committed model's sealed JSON.
func ModelArtifact() []byte { return bytes.Clone(modelArtifact) }

// ModelInfo is what a bank, a regulator or the merchant needs to understand the
// service's decisions: the model's id and card, its scorecard, the master scale
// and the line policy.
type ModelInfo struct {
	ID          string              `json:"id" doc:"the model's content id: SHA-256 of its canonical JSON, as decisions cite it"`
	Version     string              `json:"version"`
	Schema      string              `json:"schema"`
	CreatedAt   time.Time           `json:"created_at"`
	Card        scorecard.Card      `json:"model_card" doc:"intended use, data, validation metrics and limitations"`
	Data        scorecard.DataInfo  `json:"data" doc:"the training data: its SHA-256, rows and defaults"`
	Scaling     scorecard.Scaling   `json:"scaling" doc:"points at base odds, and points to double the odds"`
	Inputs      []string            `json:"inputs" doc:"the characteristics credit reads from a merchant's features"`
	Scorecard   []scorecard.Feature `json:"scorecard" doc:"the characteristics the model scores, with their bins and points"`
	Grades      []scorecard.Grade   `json:"grades" doc:"the master scale in points"`
	MasterScale []Band              `json:"master_scale" doc:"the risk grades and the PD bands they hold"`
	Currency    string              `json:"currency" doc:"the currency of the money characteristics and of the line"`
	Policy      Policy              `json:"line_policy" doc:"line = min(⌊α·R + β·M⌋, cap(grade)), rounded down to a multiple of unit; caps in fen, grades A to E"`
}

// ModelInfo describes the model and policy the service decides with, to anyone
// authenticated: whoever reads a decision may read how it was made.
func (s *Service) ModelInfo(actor dataport.Actor) (ModelInfo, error) {
	if actor.Anonymous() {
		return ModelInfo{}, dataport.Errorf("credit.ModelInfo", dataport.KindUnauthorized, "authentication required")
	}
	m := s.model
	return ModelInfo{ID: m.ID, Version: m.Version, Schema: m.Schema, CreatedAt: m.CreatedAt, Card: m.Card, Data: m.Data,
		Scaling: m.Scaling, Inputs: slices.Clone(InputNames), Scorecard: m.Features, Grades: m.Grades,
		MasterScale: slices.Clone(MasterScale), Currency: ModelCurrency, Policy: s.policy}, nil
}
