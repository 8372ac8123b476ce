// SPDX-License-Identifier: Apache-2.0

package noderuntime

import "testing"

// TestFailures covers the failure outcomes beyond COVERAGE.md's one example
// per statement: each step of the pod worker's "Error syncing pod", the
// forms of other versions, and failures matched to their request.
func TestFailures(t *testing.T) {
	const k = `E1120 09:15:18.467816    2775 pod_workers.go:1301] `
	const w = "t=2025-11-20T09:15:18.467816Z src=kubelet lvl=error ns=shop pod=cart-6f7d9c8b4-ttp4z uid=" + uid1
	const img = "ghcr.io/acme-corp/cart:1.2.0"
	runCases(t, []parseCase{
		{
			name:  "Error syncing pod: sandbox",
			opts:  Options{Year: 2025},
			lines: []string{k + `"Error syncing pod, skipping" err="failed to \"CreatePodSandbox\" for \"cart-6f7d9c8b4-ttp4z_shop(` + uid1 + `)\" with CreatePodSandboxError: \"Failed to create sandbox for pod \\\"cart-6f7d9c8b4-ttp4z_shop(` + uid1 + `)\\\": rpc error: code = Unknown desc = failed to reserve sandbox name\"" pod="shop/cart-6f7d9c8b4-ttp4z" podUID="` + uid1 + `"`},
			want:  []string{"sandbox_requested " + w + ` err=Failed to create sandbox for pod \\\"cart-6f7d9c8b4-ttp4z_shop(` + uid1 + `)\\\": rpc error: code = Unknown desc = failed to reserve sandbox name reason=CreatePodSandboxError`},
		},
		{
			name:  "Error syncing pod: crash loop",
			opts:  Options{Year: 2025},
			lines: []string{k + `"Error syncing pod, skipping" err="failed to \"StartContainer\" for \"cart\" with CrashLoopBackOff: \"back-off 5m0s restarting failed container=cart pod=cart-6f7d9c8b4-ttp4z_shop(` + uid1 + `)\"" pod="shop/cart-6f7d9c8b4-ttp4z" podUID="` + uid1 + `"`},
			want:  []string{"container_failed " + w + " ctr=cart err=back-off 5m0s restarting failed container=cart pod=cart-6f7d9c8b4-ttp4z_shop(" + uid1 + ") reason=CrashLoopBackOff"},
		},
		{
			name:  "Error syncing pod: two steps, an init container and a kill (no event)",
			opts:  Options{Year: 2025},
			lines: []string{k + `"Error syncing pod, skipping" err="[failed to \"InitContainer\" for \"init-db\" with ImagePullBackOff: \"Back-off pulling image \\\"` + img + `\\\"\", failed to \"StartContainer\" for \"cart\" with CreateContainerConfigError: \"secret \\\"db\\\" not found\", failed to \"KillPodSandbox\" for \"` + uid1 + `\" with KillPodSandboxError: \"rpc error\"]" pod="shop/cart-6f7d9c8b4-ttp4z" podUID="` + uid1 + `"`},
			want: []string{
				"image_pull_failed " + w + ` ctr=init-db image=` + img + ` err=Back-off pulling image \\\"` + img + `\\\" reason=ImagePullBackOff`,
				"container_failed " + w + ` ctr=cart err=secret \\\"db\\\" not found reason=CreateContainerConfigError`,
			},
		},
		{
			name:  "Error syncing pod, klog JSON",
			opts:  Options{Year: 2025},
			lines: []string{`{"ts":1763630118467.816,"caller":"kubelet/pod_workers.go:1301","msg":"Error syncing pod, skipping","pod":{"name":"cart-6f7d9c8b4-ttp4z","namespace":"shop"},"podUID":"` + uid1 + `","err":"failed to \"StartContainer\" for \"cart\" with ErrImagePull: \"failed to pull and unpack image \\\"` + img + `\\\": not found\""}`},
			want:  []string{"image_pull_failed t=2025-11-20T09:15:18.467816Z src=kubelet lvl=error ns=shop pod=cart-6f7d9c8b4-ttp4z uid=" + uid1 + " ctr=cart image=" + img + ` err=failed to pull and unpack image \\\"` + img + `\\\": not found reason=ErrImagePull`},
		},
		{
			name:  "Failed event with an image reason is a pull failure",
			opts:  Options{Year: 2025},
			lines: []string{`I1120 09:15:18.467816    2775 event.go:389] "Event occurred" object="shop/cart-6f7d9c8b4-ttp4z" fieldPath="spec.containers{cart}" kind="Pod" apiVersion="v1" type="Warning" reason="Failed" message="Error: ErrImagePull"`},
			want:  []string{"image_pull_failed t=2025-11-20T09:15:18.467816Z src=kubelet lvl=info ns=shop pod=cart-6f7d9c8b4-ttp4z ctr=cart err=Error: ErrImagePull reason=Failed"},
		},
		{
			name:  "old event form: pull failure",
			opts:  Options{Year: 2019},
			lines: []string{`I0217 01:18:58.000000    3855 event.go:218] Event(v1.ObjectReference{Kind:"Pod", Namespace:"shop", Name:"cart", UID:"` + uid1 + `", APIVersion:"v1", ResourceVersion:"123", FieldPath:"spec.containers{cart}"}): type: 'Warning' reason: 'Failed' Failed to pull image "` + img + `": rpc error: code = Unknown desc = Error response from daemon: manifest unknown`},
			want:  []string{"image_pull_failed t=2019-02-17T01:18:58Z src=kubelet lvl=info ns=shop pod=cart uid=" + uid1 + " ctr=cart image=" + img + ` err=Failed to pull image "` + img + `": rpc error: code = Unknown desc = Error response from daemon: manifest unknown reason=Failed`},
		},
		{
			name:  "containerd 1.6 TaskOOM (gogo)",
			lines: []string{`time="2024-11-29T18:20:18Z" level=info msg="TaskOOM event &TaskOOM{ContainerID:` + c1 + `,XXX_unrecognized:[],}"`},
			want:  []string{"container_failed t=2024-11-29T18:20:18Z src=containerd lvl=info cid=" + c1 + " err=out of memory reason=OOMKilled"},
		},
		{
			name:  "containerd 2.1 CreateContainer failed (protobuf text)",
			lines: []string{`time="2024-11-29T18:20:18Z" level=error msg="CreateContainer within sandbox \"` + sb1 + `\" for name:\"cart\"  attempt:2 failed" error="failed to get sandbox image \"registry.k8s.io/pause:3.10\": not found"`},
			want:  []string{"container_failed t=2024-11-29T18:20:18Z src=containerd lvl=error sb=" + sb1 + ` ctr=cart attempt=2 err=failed to get sandbox image \"registry.k8s.io/pause:3.10\": not found`},
		},
		{
			name:  "containerd stop and remove failures are not events",
			lines: []string{`time="2024-11-29T18:20:18Z" level=error msg="StopContainer for \"` + c1 + `\" failed" error="rpc error: code = DeadlineExceeded"`},
		},
		{
			name: "CRI-O: a failed CreateContainer names the container of its request",
			lines: []string{
				`time="2025-11-20T09:15:18Z" level=info msg="Creating container: shop/cart-6f7d9c8b4-ttp4z/cart" id=r-7 name=/runtime.v1.RuntimeService/CreateContainer`,
				`time="2025-11-20T09:15:19Z" level=debug msg="Response error: rpc error: code = Unknown desc = container create failed: executable file not found" id=r-7 name=/runtime.v1.RuntimeService/CreateContainer`,
			},
			want: []string{"container_failed t=2025-11-20T09:15:19Z src=crio lvl=debug cri=v1 ns=shop pod=cart-6f7d9c8b4-ttp4z ctr=cart req=r-7 err=rpc error: code = Unknown desc = container create failed: executable file not found"},
		},
		{
			name: "CRI-O: a failed StartContainer names the container id",
			lines: []string{
				`time="2025-11-20T09:15:18Z" level=info msg="Starting container: ` + c1 + `" id=r-8 name=/runtime.v1.RuntimeService/StartContainer`,
				`time="2025-11-20T09:15:19Z" level=debug msg="Response error: rpc error: code = Unknown desc = failed to start" id=r-8 name=/runtime.v1.RuntimeService/StartContainer`,
			},
			want: []string{"container_failed t=2025-11-20T09:15:19Z src=crio lvl=debug cri=v1 cid=" + c1 + " req=r-8 err=rpc error: code = Unknown desc = failed to start"},
		},
		{
			name: "CRI-O: a failed PullImage names the image of its request",
			lines: []string{
				`time="2025-11-20T09:15:18Z" level=info msg="Pulling image: ` + img + `" id=r-9 name=/runtime.v1.ImageService/PullImage`,
				`time="2025-11-20T09:15:19Z" level=debug msg="Response error: rpc error: code = Unknown desc = reading manifest 1.2.0 in ghcr.io/acme-corp/cart: manifest unknown" id=r-9 name=/runtime.v1.ImageService/PullImage`,
			},
			want: []string{"image_pull_failed t=2025-11-20T09:15:19Z src=crio lvl=debug cri=v1 image=" + img + " req=r-9 err=rpc error: code = Unknown desc = reading manifest 1.2.0 in ghcr.io/acme-corp/cart: manifest unknown"},
		},
		{
			name:  "CRI-O: an error of an unknown request names nothing",
			lines: []string{`time="2025-11-20T09:15:19Z" level=debug msg="Response error: rpc error: code = NotFound" id=r-10 name=/runtime.v1.RuntimeService/CreateContainer`},
		},
		{
			name:  "CRI-O: errors of other calls are not events",
			lines: []string{`time="2025-11-20T09:15:19Z" level=debug msg="Response error: rpc error: code = NotFound desc = could not find container" id=r-11 name=/runtime.v1.RuntimeService/ContainerStatus`},
		},
	})
}
