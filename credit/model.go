package credit

import (
	"bytes"
	_ "embed"

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
