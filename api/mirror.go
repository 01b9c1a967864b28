package api

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/dataport/dataport"
	"github.com/dataport/dataport/mirror"
	"github.com/dataport/dataport/registry"
)

type upstreamOutput struct {
	Body mirror.UpstreamInfo
}

type registerUpstreamInput struct {
	Body mirror.NewUpstream
}

func (s *Server) registerUpstream(ctx context.Context, in *registerUpstreamInput) (*upstreamOutput, error) {
	u, err := s.Mirror.Register(ctx, actorOf(ctx), in.Body)
	if err != nil {
		return nil, s.problem(err)
	}
	return &upstreamOutput{Body: u}, nil
}

type upstreamsOutput struct {
	Body struct {
		Items []mirror.UpstreamInfo `json:"items"`
		Cache mirror.Usage          `json:"cache" doc:"the mirror's disk cache: objects, bytes, cap, hits, misses, upstream fetches, evictions"`
	}
}

func (s *Server) listUpstreams(ctx context.Context, _ *struct{}) (*upstreamsOutput, error) {
	us, err := s.Mirror.Upstreams(ctx, actorOf(ctx))
	if err != nil {
		return nil, s.problem(err)
	}
	out := &upstreamsOutput{}
	out.Body.Items, out.Body.Cache = us, s.Mirror.Cache().Usage()
	return out, nil
}

type upstreamPath struct {
	Name string `path:"name" doc:"the upstream's bucket name"`
}

func (s *Server) removeUpstream(ctx context.Context, in *upstreamPath) (*upstreamOutput, error) {
	u, err := s.Mirror.Remove(ctx, actorOf(ctx), in.Name)
	if err != nil {
		return nil, s.problem(err)
	}
	return &upstreamOutput{Body: u}, nil
}

type syncInput struct {
	Name string `path:"name" doc:"the upstream's bucket name"`
	Body struct {
		Prefix         string `json:"prefix,omitempty" maxLength:"1024" doc:"prefetch only keys under this prefix"`
		BytesPerSecond int64  `json:"bytes_per_second,omitempty" minimum:"0" doc:"bandwidth cap; 0 for none"`
		Concurrency    int    `json:"concurrency,omitempty" minimum:"0" maximum:"64"`
	}
}

// syncProgress is one line of a sync's progress stream.
type syncProgress struct {
	Done   int64              `json:"done,omitempty"`
	Total  int64              `json:"total,omitempty"`
	Key    string             `json:"key,omitempty"`
	Report *mirror.SyncReport `json:"report,omitempty"`
	Error  string             `json:"error,omitempty"`
}

// syncUpstream prefetches an upstream into the cache, streaming progress as JSON
// lines (one per object, then the report); dataport mirror sync draws them as a
// progress bar. Cancelling the request stops the sync; running it again resumes.
func (s *Server) syncUpstream(ctx context.Context, in *syncInput) (*huma.StreamResponse, error) {
	actor := actorOf(ctx)
	if !actor.Has(dataport.RoleOperator) {
		return nil, s.problem(dataport.Errorf("mirror.Sync", dataport.KindForbidden, "the operator manages the mirror"))
	}
	if _, err := s.Mirror.Upstream(ctx, in.Name); err != nil {
		return nil, s.problem(dataport.Errorf("mirror.Sync", dataport.KindNotFound, "no upstream %s", in.Name))
	}
	return jsonLines(func(ctx context.Context, send func(any)) {
		rep, err := s.Mirror.Sync(ctx, actor, in.Name, in.Body.Prefix, mirror.SyncOptions{BytesPerSecond: in.Body.BytesPerSecond,
			Concurrency: in.Body.Concurrency, Progress: func(done, total int64, key string) { send(syncProgress{Done: done, Total: total, Key: key}) }})
		if err != nil {
			send(syncProgress{Error: dataport.MessageOf(err), Report: &rep})
			return
		}
		send(syncProgress{Report: &rep})
	}), nil
}

// jsonLines is a streamed answer of JSON lines (application/x-ndjson): fn sends
// values, each written as one line and flushed at once, so a client shows progress
// as it happens. fn runs with the request's context: a client that goes away stops it.
func jsonLines(fn func(ctx context.Context, send func(any))) *huma.StreamResponse {
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		r, w := humago.Unwrap(hctx)
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		enc := json.NewEncoder(w)
		var mu sync.Mutex // progress may come from several goroutines
		fn(r.Context(), func(v any) {
			mu.Lock()
			defer mu.Unlock()
			enc.Encode(v)
			rc.Flush()
		})
	}}
}

// S3 access keys.

type s3KeyOutput struct {
	Body struct {
		registry.S3Key
		Secret string `json:"secret_access_key,omitempty" doc:"shown once"`
	}
}

type createS3KeyInput struct {
	ID   string `path:"id" doc:"participant id"`
	Body struct {
		Name string `json:"name" minLength:"1" maxLength:"100"`
	}
}

func (s *Server) createS3Key(ctx context.Context, in *createS3KeyInput) (*s3KeyOutput, error) {
	k, secret, err := s.S3Keys.Create(ctx, actorOf(ctx), in.ID, in.Body.Name)
	if err != nil {
		return nil, s.problem(err)
	}
	out := &s3KeyOutput{}
	out.Body.S3Key, out.Body.Secret = k, secret
	return out, nil
}

type s3KeysOutput struct {
	Body struct {
		Items []registry.S3Key `json:"items"`
	}
}

func (s *Server) listS3Keys(ctx context.Context, in *participantPath) (*s3KeysOutput, error) {
	ks, err := s.S3Keys.List(ctx, actorOf(ctx), in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	out := &s3KeysOutput{}
	out.Body.Items = ks
	return out, nil
}

type s3KeyPath struct {
	ID    string `path:"id" doc:"participant id"`
	KeyID string `path:"key_id" doc:"the access key id"`
}

func (s *Server) revokeS3Key(ctx context.Context, in *s3KeyPath) (*s3KeyOutput, error) {
	k, err := s.S3Keys.Revoke(ctx, actorOf(ctx), in.ID, in.KeyID)
	if err != nil {
		return nil, s.problem(err)
	}
	out := &s3KeyOutput{}
	out.Body.S3Key = k
	return out, nil
}
