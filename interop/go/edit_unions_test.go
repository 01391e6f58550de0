// Decodes every variant of the contract's unions (edits and tasks) with the Go client that
// openapi-generator makes from openapi/runway.yaml (scripts/portability.sh copies
// this file into the generated package and runs `go test`).
package runway

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
)

const image = "http://127.0.0.1:8080/images/img_0.jpg"
const video = "http://127.0.0.1:8080/videos/vid_0.mp4"

func TestEditImageVariants(t *testing.T) {
	cases := []struct {
		body string
		want string
	}{
		{`{"image_url":"` + image + `","edit_type":"color-adjust"}`, "ColorAdjustImage"},
		{`{"image_url":"` + image + `","edit_type":"color-adjust","brightness":0.2,"hue_rotate":30}`, "ColorAdjustImage"},
		{`{"image_url":"` + image + `","edit_type":"add-filter","filter":"sepia"}`, "FilterImage"},
		{`{"image_url":"` + image + `","edit_type":"resize"}`, "ResizeImage"},
		{`{"image_url":"` + image + `","edit_type":"resize","resize_width":320}`, "ResizeImage"},
	}
	for _, c := range cases {
		var req EditImageRequest
		if err := json.Unmarshal([]byte(c.body), &req); err != nil {
			t.Fatalf("%s: %v", c.body, err)
		}
		got := []string{}
		if req.ColorAdjustImage != nil {
			got = append(got, "ColorAdjustImage")
		}
		if req.FilterImage != nil {
			got = append(got, "FilterImage")
			if req.FilterImage.Filter != IMAGE_SEPIA {
				t.Errorf("%s: filter %v", c.body, req.FilterImage.Filter)
			}
		}
		if req.ResizeImage != nil {
			got = append(got, "ResizeImage")
		}
		if len(got) != 1 || got[0] != c.want {
			t.Errorf("%s: decoded as %v, want %s", c.body, got, c.want)
		}
		assertRoundTrip(t, c.body, req)
	}
}

func TestEditVideoVariants(t *testing.T) {
	cases := []struct {
		body string
		want string
	}{
		{`{"video_url":"` + video + `","edit_type":"trim"}`, "TrimVideo"},
		{`{"video_url":"` + video + `","edit_type":"trim","start_time":1,"end_time":2}`, "TrimVideo"},
		{`{"video_url":"` + video + `","edit_type":"add-filter","filter":"sepia"}`, "FilterVideo"},
		{`{"video_url":"` + video + `","edit_type":"adjust-speed","speed_factor":2}`, "AdjustVideoSpeed"},
	}
	for _, c := range cases {
		var req EditVideoRequest
		if err := json.Unmarshal([]byte(c.body), &req); err != nil {
			t.Fatalf("%s: %v", c.body, err)
		}
		got := []string{}
		if req.TrimVideo != nil {
			got = append(got, "TrimVideo")
		}
		if req.FilterVideo != nil {
			got = append(got, "FilterVideo")
			if req.FilterVideo.Filter != VIDEO_SEPIA {
				t.Errorf("%s: filter %v", c.body, req.FilterVideo.Filter)
			}
		}
		if req.AdjustVideoSpeed != nil {
			got = append(got, "AdjustVideoSpeed")
		}
		if len(got) != 1 || got[0] != c.want {
			t.Errorf("%s: decoded as %v, want %s", c.body, got, c.want)
		}
		assertRoundTrip(t, c.body, req)
	}
}

func TestCreateTaskVariants(t *testing.T) {
	cases := []struct {
		body string
		want string
	}{
		{`{"operation":"generate-image","input":{"prompt":"x"}}`, "GenerateImageTask"},
		{`{"operation":"edit-image","input":{"image_url":"` + image + `","edit_type":"resize"}}`, "EditImageTask"},
		{`{"operation":"generate-video","input":{"prompt":"x","duration":3}}`, "GenerateVideoTask"},
		{`{"operation":"edit-video","input":{"video_url":"` + video + `","edit_type":"trim"}}`, "EditVideoTask"},
		{`{"operation":"video-filter","input":{"video_url":"` + video + `","filter":"sepia"}}`, "VideoFilterTask"},
		{`{"operation":"image-to-video","input":{"image_url":"` + image + `","duration":3}}`, "ImageToVideoTask"},
		{`{"operation":"add-text-to-image","input":{"image_url":"` + image + `","text":"hi","position":"center"}}`, "AddTextToImageTask"},
		{`{"operation":"style-transfer","input":{"image_url":"` + image + `","style_reference":"` + image + `"}}`, "StyleTransferTask"},
		{`{"operation":"resize-video","input":{"video_url":"` + video + `","new_width":320,"new_height":240}}`, "ResizeVideoTask"},
		{`{"operation":"generate-thumbnail","input":{"video_url":"` + video + `"}}`, "GenerateThumbnailTask"},
		{`{"operation":"extract-audio","input":{"video_url":"` + video + `"}}`, "ExtractAudioTask"},
		{`{"operation":"speed-adjust","input":{"video_url":"` + video + `","speed_factor":2}}`, "SpeedAdjustTask"},
	}
	for _, c := range cases {
		var req CreateTaskRequest
		if err := json.Unmarshal([]byte(c.body), &req); err != nil {
			t.Errorf("%s: %v", c.body, err)
			continue
		}
		if got := fmt.Sprintf("%T", req.GetActualInstance()); got != "*runway."+c.want {
			t.Errorf("%s: decoded as %s, want %s", c.body, got, c.want)
		}
		assertRoundTrip(t, c.body, req)
	}
}

// The decoded value encodes back to the same JSON object.
func assertRoundTrip(t *testing.T, body string, value interface{}) {
	t.Helper()
	encoded, err := json.Marshal(value)
	if err != nil {
		t.Fatalf("%s: encode: %v", body, err)
	}
	var want, got map[string]interface{}
	if err := json.Unmarshal([]byte(body), &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(encoded, &got); err != nil {
		t.Fatal(err)
	}
	wantText, _ := json.Marshal(want)
	gotText, _ := json.Marshal(got)
	if string(wantText) != string(gotText) {
		t.Errorf("round trip of %s gave %s", wantText, gotText)
	}
}

// The README's Go example, compiled with the client (not run: no server here).
func ExampleImagesAPIService_GenerateImage() {
	key := "your API key"
	cfg := NewConfiguration()
	cfg.Servers = ServerConfigurations{{URL: "http://127.0.0.1:8080"}}
	ctx := context.WithValue(context.Background(), ContextAccessToken, key)
	c := NewAPIClient(cfg)
	img, _, err := c.ImagesAPI.GenerateImage(ctx).GenerateImageRequest(*NewGenerateImageRequest("a red fox in snow")).Execute()
	if err == nil {
		filter := FilterImageAsEditImageRequest(NewFilterImage(img.ImageUrl, "add-filter", IMAGE_SEPIA))
		_, _, _ = c.ImagesAPI.EditImage(ctx).EditImageRequest(filter).Execute()
	}
}
