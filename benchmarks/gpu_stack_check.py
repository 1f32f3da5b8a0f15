"""The GPU half of the stack check (benchmarks/gpu_check.sh runs it after tests/test_stack.py).

* the versions the check runs with, and the project's environment checks (``dynrcnn.compat``: numpy < 2,
  pkg_resources);
* mmcv's compiled ops on the device against their CPU results: NMS, RoIAlign forward and backward (an mmcv built
  without its CUDA ops fails here with "nms_impl: implementation for device cuda:0 not found");
* one training step and one inference of a small two-stage detector with ``AblationRoIHead`` on the device.

    python benchmarks/gpu_stack_check.py [--device cuda]

Exit status 0 when everything passed; each check prints one line.
"""

import argparse
import math
import sys
from importlib import metadata

import torch

VERSIONS = ("torch", "mmcv", "mmengine", "mmdet", "numpy", "setuptools", "pycocotools", "scipy", "matplotlib")


def versions(device: torch.device) -> None:
    import dynrcnn.compat  # noqa: F401  (the project's checks: numpy < 2, pkg_resources, safe checkpoint loading)

    found = []
    for name in VERSIONS:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    print("versions: " + ", ".join(found))
    if device.type == "cuda":
        from mmcv.ops import get_compiler_version, get_compiling_cuda_version

        props = torch.cuda.get_device_properties(device)
        print(
            f"device: {props.name}, compute capability {props.major}.{props.minor}, "
            f"{props.total_memory / 2**30:.0f} GiB; torch CUDA {torch.version.cuda}; mmcv ops compiled with CUDA "
            f"{get_compiling_cuda_version()} by {get_compiler_version()}"
        )


def check_nms(device: torch.device) -> None:
    from mmcv.ops import nms

    g = torch.Generator().manual_seed(0)
    xy = torch.rand(2000, 2, generator=g) * 500
    boxes = torch.cat([xy, xy + 10 + torch.rand(2000, 2, generator=g) * 100], dim=1)
    scores = torch.rand(2000, generator=g)
    _, keep_cpu = nms(boxes, scores, iou_threshold=0.5)
    _, keep_dev = nms(boxes.to(device), scores.to(device), iou_threshold=0.5)
    assert keep_dev.device.type == device.type, keep_dev.device
    assert keep_dev.cpu().tolist() == keep_cpu.tolist(), "NMS keeps other boxes on the device than on the CPU"
    print(f"nms on {device}: same {len(keep_cpu)} of 2000 boxes kept as on the CPU")


def check_roi_align(device: torch.device) -> None:
    from mmcv.ops import roi_align

    g = torch.Generator().manual_seed(1)
    feats = torch.rand(2, 16, 50, 50, generator=g)
    xy = torch.rand(64, 2, generator=g) * 150
    rois = torch.cat([torch.randint(0, 2, (64, 1), generator=g).float(), xy, xy + 8 + torch.rand(64, 2) * 40], 1)
    results = {}
    for dev in (torch.device("cpu"), device):
        # a fresh leaf per device: feats.to('cpu') is feats itself, so marking it would make the next copy a non-leaf
        x = feats.clone().to(dev).requires_grad_(True)
        out = roi_align(x, rois.to(dev), (7, 7), 0.25, 2, "avg", True)
        out.sum().backward()
        results[dev.type] = (out.detach().cpu(), x.grad.cpu())
    (out_cpu, grad_cpu), (out_dev, grad_dev) = results["cpu"], results[device.type]
    assert torch.allclose(out_cpu, out_dev, atol=1e-5), (out_cpu - out_dev).abs().max()
    assert torch.allclose(grad_cpu, grad_dev, atol=1e-4), (grad_cpu - grad_dev).abs().max()
    print(f"roi_align on {device}: forward and backward equal the CPU's (64 RoIs, 7 x 7)")


def check_detector(device: torch.device) -> None:
    from mmdet.registry import MODELS
    from mmdet.structures import DetDataSample
    from mmdet.utils import register_all_modules
    from mmengine.optim import build_optim_wrapper
    from mmengine.structures import InstanceData

    import dynrcnn.models  # noqa: F401
    from dynrcnn.testing import dynamic_rcnn_model_cfg

    register_all_modules()
    torch.manual_seed(0)
    model = MODELS.build(dynamic_rcnn_model_cfg("AblationRoIHead", depth=18, base_channels=16, neck_channels=64))
    model.to(device)
    size = 128

    def batch():
        image = torch.zeros(3, size, size, dtype=torch.uint8)
        image[:, 20:60, 30:80] = 200
        sample = DetDataSample(
            metainfo=dict(img_shape=(size, size), ori_shape=(size, size), scale_factor=(1.0, 1.0)),
        )
        sample.gt_instances = InstanceData(bboxes=torch.tensor([[30.0, 20.0, 80.0, 60.0]]), labels=torch.tensor([1]))
        return dict(inputs=[image], data_samples=[sample])

    optim = build_optim_wrapper(model, dict(optimizer=dict(type="SGD", lr=0.01, momentum=0.9)))
    model.train()
    log_vars = model.train_step(batch(), optim)
    losses = {k: float(torch.as_tensor(v).detach()) for k, v in log_vars.items() if k.startswith("loss")}
    assert all(math.isfinite(v) for v in losses.values()), losses
    assert next(model.parameters()).device.type == device.type
    model.eval()
    (result,) = model.val_step(batch())
    assert result.pred_instances.bboxes.device.type == device.type
    print(
        f"detector on {device}: a training step (loss {losses['loss']:.3f}) and an inference "
        f"({len(result.pred_instances)} boxes) with AblationRoIHead"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(f"ERROR: torch {torch.__version__} sees no GPU (CUDA build: {torch.version.cuda})")
        return 1
    failed = 0
    for check in (versions, check_nms, check_roi_align, check_detector):
        try:
            check(device)
        except Exception as err:  # noqa: BLE001 - report every check, not only the first failure
            print(f"{check.__name__} FAILED: {type(err).__name__}: {err}")
            failed += 1
    print(f"gpu stack check on {device}: " + ("PASS" if not failed else f"{failed} check(s) FAILED"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
