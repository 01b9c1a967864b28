package api

import (
	"context"
	"encoding/json"
	"time"

	"github.com/dataport/dataport/ledger"
)

// filingBody is a filing as the API shows it: the canonical entry is included as a
// string, exactly the bytes that were hashed, so a client can check sha256 itself.
type filingBody struct {
	Seq      int64           `json:"seq"`
	FiledAt  time.Time       `json:"filed_at"`
	Actor    string          `json:"actor"`
	KeyID    string          `json:"key_id,omitempty"`
	Type     string          `json:"type"`
	Subjects []string        `json:"subjects"`
	Payload  json.RawMessage `json:"payload"`
	Entry    string          `json:"entry" doc:"the filing as RFC 8785 canonical JSON: the bytes hashed and logged"`
	SHA256   string          `json:"sha256"`
}

func filingOut(f ledger.Filing) filingBody {
	return filingBody{Seq: f.Seq, FiledAt: f.FiledAt, Actor: f.Actor, KeyID: f.KeyID, Type: f.Type,
		Subjects: f.Subjects, Payload: f.Payload, Entry: string(f.Entry), SHA256: f.SHA256}
}

type listFilingsInput struct {
	Subject string `query:"subject" doc:"only filings about this record (participant, product, deal …)"`
	Type    string `query:"type" doc:"only filings of this type, e.g. participant.suspended"`
	After   int64  `query:"after" minimum:"0" doc:"only filings after this sequence number"`
	Limit   int    `query:"limit" minimum:"1" maximum:"1000" default:"100"`
}

type filingList struct {
	Body struct {
		Items []filingBody `json:"items"`
	}
}

func (s *Server) listFilings(ctx context.Context, in *listFilingsInput) (*filingList, error) {
	fs, err := s.Filings.List(ctx, actorOf(ctx), ledger.Filter{Subject: in.Subject, Type: in.Type, After: in.After, Limit: in.Limit})
	if err != nil {
		return nil, s.problem(err)
	}
	out := &filingList{}
	out.Body.Items = make([]filingBody, 0, len(fs))
	for _, f := range fs {
		out.Body.Items = append(out.Body.Items, filingOut(f))
	}
	return out, nil
}
