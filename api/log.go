package api

import (
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
)

// The log's read API, C2SP tlog-tiles: static-looking resources under /log/ that any
// tlog client, witness or mirror can fetch without an account.

func (s *Server) logCheckpoint(w http.ResponseWriter, r *http.Request) {
	note, err := s.Log.CosignedCheckpoint(r.Context())
	if err != nil {
		writeProblem(w, statusOf(dataport.KindOf(err)), dataport.MessageOf(err))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	// The checkpoint is the one mutable resource: cache it for seconds at most.
	w.Header().Set("Cache-Control", "public, max-age=2")
	w.Write(note)
}

// logCosignature takes a witness's cosignature (C2SP tlog-cosignature): the
// checkpoint as the witness returns it, with its signature lines. No account is
// needed: the cosignature authenticates the witness, and only configured witnesses
// are accepted.
func (s *Server) logCosignature(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		writeProblem(w, http.StatusRequestEntityTooLarge, "a cosigned checkpoint is at most 64 KiB")
		return
	}
	n, err := s.Log.AddCosignatures(r.Context(), body)
	if err != nil {
		writeProblem(w, statusOf(dataport.KindOf(err)), dataport.MessageOf(err))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "%d cosignatures added\n", n)
}

func (s *Server) logTile(w http.ResponseWriter, r *http.Request) {
	t, err := ledger.ParseTilePath("tile/" + r.PathValue("path"))
	if err != nil {
		writeProblem(w, http.StatusBadRequest, err.Error())
		return
	}
	data, err := s.Log.ReadTile(r.Context(), t)
	if err != nil {
		if dataport.KindOf(err) == dataport.KindInternal {
			s.Logger.Error("read tile", "tile", t.String(), "err", err)
		}
		writeProblem(w, statusOf(dataport.KindOf(err)), dataport.MessageOf(err))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	// Tiles and entry bundles never change once served: a partial tile is the
	// prefix of its full tile, and its path names its width.
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Header().Add("Vary", "Accept-Encoding")
	// C2SP tlog-tiles: entry bundles SHOULD be compressed at the HTTP layer.
	if t.Entries && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		zw.Write(data)
		zw.Close()
		return
	}
	w.Write(data)
}

// Proofs through the REST API.

type filingInput struct {
	Seq  int64 `path:"seq" minimum:"1"`
	Wait int   `query:"wait" minimum:"0" maximum:"30" doc:"seconds to wait until a signed checkpoint covers the filing (0: answer at once, perhaps without a proof)"`
}

type filingWithProof struct {
	filingBody
	Checkpoint string `json:"checkpoint,omitempty" doc:"the signed checkpoint (C2SP tlog-checkpoint) the proof is against"`
	Proof      string `json:"proof,omitempty" doc:"C2SP tlog-proof bundle; its extra data is the entry. Absent while no signed checkpoint covers the filing yet"`
}

func (s *Server) withProof(ctx context.Context, f ledger.Filing, cp ledger.Checkpoint, covered bool) (filingWithProof, error) {
	out := filingWithProof{filingBody: filingOut(f)}
	if !covered || cp.Size < f.Seq {
		return out, nil
	}
	bundle, err := s.Log.ProofBundle(ctx, f, cp)
	if err != nil {
		return out, err
	}
	out.Checkpoint, out.Proof = string(cp.Note), bundle
	return out, nil
}

type filingOutput struct{ Body filingWithProof }

func (s *Server) getFiling(ctx context.Context, in *filingInput) (*filingOutput, error) {
	f, err := s.Filings.Get(ctx, actorOf(ctx), in.Seq)
	if err != nil {
		return nil, s.problem(err)
	}
	cp, covered := s.Log.Latest()
	if in.Wait > 0 && cp.Size < f.Seq {
		wctx, cancel := context.WithTimeout(ctx, time.Duration(in.Wait)*time.Second)
		cp, err = s.Log.WaitCovered(wctx, f.Seq)
		cancel()
		if err != nil {
			return nil, s.problem(err)
		}
		covered = true
	}
	body, err := s.withProof(ctx, f, cp, covered)
	if err != nil {
		return nil, s.problem(err)
	}
	return &filingOutput{Body: body}, nil
}

type traceInput struct {
	Subject string `query:"subject" required:"true" minLength:"1" doc:"a participant, product, deal or merchant id"`
	After   int64  `query:"after" minimum:"0"`
	Limit   int    `query:"limit" minimum:"1" maximum:"500" default:"100"`
}

type traceOutput struct {
	Body struct {
		Subject    string            `json:"subject"`
		Checkpoint string            `json:"checkpoint,omitempty" doc:"the signed checkpoint every proof is against"`
		Items      []filingWithProof `json:"items"`
	}
}

// trace is the regulator's view: every filing naming a subject, in order, each with
// its inclusion proof against one signed checkpoint.
func (s *Server) trace(ctx context.Context, in *traceInput) (*traceOutput, error) {
	fs, err := s.Filings.List(ctx, actorOf(ctx), ledger.Filter{Subject: in.Subject, After: in.After, Limit: in.Limit})
	if err != nil {
		return nil, s.problem(err)
	}
	cp, covered := s.Log.Latest()
	out := &traceOutput{}
	out.Body.Subject = in.Subject
	if covered {
		out.Body.Checkpoint = string(cp.Note)
	}
	out.Body.Items = make([]filingWithProof, 0, len(fs))
	for _, f := range fs {
		item, err := s.withProof(ctx, f, cp, covered)
		if err != nil {
			return nil, s.problem(err)
		}
		out.Body.Items = append(out.Body.Items, item)
	}
	return out, nil
}

type consistencyInput struct {
	From int64 `query:"from" required:"true" minimum:"1" doc:"the older tree size"`
	To   int64 `query:"to" minimum:"0" doc:"the newer tree size; the latest checkpoint's when 0"`
}

type consistencyOutput struct {
	Body struct {
		From       int64    `json:"from"`
		To         int64    `json:"to"`
		Proof      []string `json:"proof" doc:"RFC 6962 consistency proof, base64 hashes"`
		Checkpoint string   `json:"checkpoint" doc:"the latest signed checkpoint"`
	}
}

func (s *Server) consistency(ctx context.Context, in *consistencyInput) (*consistencyOutput, error) {
	if actorOf(ctx).Anonymous() {
		return nil, s.problem(dataport.Errorf("api.consistency", dataport.KindUnauthorized, "authentication required"))
	}
	cp, ok := s.Log.Latest()
	if !ok {
		return nil, s.problem(dataport.Errorf("api.consistency", dataport.KindNotFound, "the log has no checkpoint yet"))
	}
	to := in.To
	if to == 0 {
		to = cp.Size
	}
	proof, err := s.Log.ConsistencyProof(ctx, in.From, to)
	if err != nil {
		return nil, s.problem(err)
	}
	out := &consistencyOutput{}
	out.Body.From, out.Body.To, out.Body.Checkpoint = in.From, to, string(cp.Note)
	out.Body.Proof = make([]string, len(proof))
	for i, h := range proof {
		out.Body.Proof[i] = base64.StdEncoding.EncodeToString(h)
	}
	return out, nil
}
