"""RoI head for ablating Dynamic R-CNN's two components (DLA and DSL).

``AblationRoIHead`` is MMDetection's ``StandardRoIHead`` plus the two dynamic
training components of `Dynamic R-CNN <https://arxiv.org/abs/2004.06002>`_,
each behind its own switch, with two choices of statistics semantics:

- ``statistics='mmdet'`` reproduces MMDetection's ``DynamicRoIHead``: the
  ``iou_topk``-th largest IoU per image averaged over the images, the
  ``beta_topk x images``-th smallest regression target over the sampled
  positives, ``numpy.median`` and the base config's thresholds (0.5) before
  the first update.
- ``statistics='official'`` reproduces the authors' code: batch-level
  statistics over all proposals (ground-truth boxes included, proposals below
  the threshold paired with the image's first ground truth), the upper median
  and the threshold ``initial_iou`` from the first iteration.

Unlike ``DynamicRoIHead`` the statistics stay on the device: they are read
once per update interval, so non-update iterations add no host-device
synchronisation. The values of every iteration are exposed through
:attr:`AblationRoIHead.last_log` for ``DynamicRCNNStatsHook`` to log after
the iteration, and :meth:`AblationRoIHead.dynamic_state` /
:meth:`AblationRoIHead.load_dynamic_state` let the hook checkpoint them.

Smaller semantic differences:

- Images without ground truth (e.g. COCO images whose only annotations are
  crowd regions): under ``'mmdet'`` such an image contributes an IoU
  statistic of 0 to the per-image mean (its proposals' largest IoU is 0), as
  in MMDetection's ``DynamicRoIHead``; under ``'official'`` it contributes
  nothing to either statistic.
- Host reads: "no synchronisation" is the head's own. The logging hook
  copies each iteration's few values to the host with one ``.tolist()`` in
  ``after_train_iter``, after mmengine has already read the losses (which
  waits for the device), so a training with the hook does one small copy
  per iteration but no extra wait.
- The beta guard (a median below ``EPS`` keeps the previous beta) applies
  under both rules; the authors' code has none.
- The proposals the statistics see are MMDetection's (1000 per image,
  boxes without the authors' +1 pixel convention), not the authors' (2000
  per two-image batch, +1 boxes), even under ``'official'``.

Which config family uses which rule, and every deviation of each family from
the paper: ``dynrcnn/families.py``.
"""

import math

import torch
from mmdet.models.losses import SmoothL1Loss
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi, bbox_overlaps, get_box_tensor
from mmdet.utils import InstanceList
from mmengine import dist
from torch import Tensor

# The settings (model.train_cfg.rcnn.dynamic_rcnn), their defaults and their checker (standard library only: the
# pipeline checks train.cfg_options with it while the DAG is built).
from dynrcnn.dynamic_settings import DYNAMIC_RCNN_KEY
from dynrcnn.dynamic_settings import check_dynamic_cfg as _check_dynamic_cfg

# Same guard as MMDetection's DynamicRoIHead: a smaller median keeps the
# previous beta (SmoothL1 needs beta > 0).
EPS = 1e-15


class _RecordingAssigner:
    """Transparent wrapper of the head's assigner that keeps this iteration's
    assignments.

    ``StandardRoIHead.loss`` assigns and samples image by image and keeps
    only the sampling results; the IoU statistics need the assignment of all
    proposals. Wrapping the assigner gives them without re-implementing the
    loop. The kept ``AssignResult`` is the object the sampler then extends
    in place with the ground-truth boxes (``add_gt_``), which is exactly the
    proposal set MMDetection's ``DynamicRoIHead`` takes its statistics on.

    Attribute reads and writes (e.g. ``pos_iou_thr``) go to the wrapped
    assigner.

    Args:
        assigner: The built assigner.
    """

    def __init__(self, assigner) -> None:
        object.__setattr__(self, "assigner", assigner)
        object.__setattr__(self, "records", [])

    def assign(self, pred_instances, gt_instances, *args, **kwargs):
        """Assign as the wrapped assigner does and record the result."""
        result = self.assigner.assign(pred_instances, gt_instances, *args, **kwargs)
        self.records.append((pred_instances.priors, gt_instances.bboxes, result))
        return result

    def __getattr__(self, name):
        if name == "assigner":  # not set yet (copy/pickle reconstruction)
            raise AttributeError(name)
        return getattr(self.assigner, name)

    def __setattr__(self, name, value) -> None:
        setattr(self.assigner, name, value)


@MODELS.register_module()
class AblationRoIHead(StandardRoIHead):
    """``StandardRoIHead`` with switchable Dynamic Label Assignment (DLA) and
    Dynamic SmoothL1 loss (DSL).

    All settings are read from ``train_cfg.rcnn.dynamic_rcnn`` (where
    MMDetection's ``DynamicRoIHead`` reads them):

    - ``iou_topk`` (int): K_I. Defaults to 75.
    - ``beta_topk`` (int): K_beta. Defaults to 10.
    - ``update_iter_interval`` (int): C, iterations between updates.
      Defaults to 100.
    - ``initial_iou`` (float): floor of the IoU threshold (``'mmdet'``) or
      the threshold from the first iteration (``'official'``).
      Defaults to 0.4.
    - ``initial_beta`` (float): ceiling of beta. Defaults to 1.0.
    - ``dynamic_label`` (bool): DLA on. Defaults to True.
    - ``dynamic_loss`` (bool): DSL on. Defaults to True.
    - ``statistics`` (str): ``'mmdet'`` or ``'official'``.
      Defaults to ``'mmdet'``.
    - ``sync_across_ranks`` (bool): reduce the statistics over distributed
      ranks before each update so that all ranks share threshold and beta.
      Defaults to False (the paper's per-GPU behaviour).

    With both switches off the head is exactly ``StandardRoIHead`` and no
    statistics are computed. With ``dynamic_loss`` on, ``bbox_head.loss_bbox``
    must be ``SmoothL1Loss``.

    Args:
        **kwargs: Arguments of ``StandardRoIHead``.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dynamic_cfg: dict | None = None
        self.last_log: dict = {}
        if not self.train_cfg:
            return  # test-only model: nothing dynamic to set up
        cfg = _check_dynamic_cfg(self.train_cfg.get("dynamic_rcnn"))
        self.dynamic_cfg = cfg
        if cfg["dynamic_loss"] and not isinstance(self.bbox_head.loss_bbox, SmoothL1Loss):
            raise ValueError(
                "`roi_head.bbox_head.loss_bbox` must be SmoothL1Loss when "
                f"`{DYNAMIC_RCNN_KEY}.dynamic_loss` is True, got "
                f"{type(self.bbox_head.loss_bbox).__name__}."
            )
        if not (cfg["dynamic_label"] or cfg["dynamic_loss"]):
            return
        # The authors' code starts from initial_iou / initial_beta; MMDetection
        # starts from the base config (0.5 / loss_bbox.beta).
        if cfg["statistics"] == "official":
            if cfg["dynamic_label"]:
                self._set_iou_thr(cfg["initial_iou"])
            if cfg["dynamic_loss"]:
                self.bbox_head.loss_bbox.beta = cfg["initial_beta"]
        self.bbox_assigner = _RecordingAssigner(self.bbox_assigner)
        interval = cfg["update_iter_interval"]
        # Per-iteration statistics of the pending interval, on the device.
        self.iou_history = torch.zeros(interval, dtype=torch.float64)
        self.beta_history = torch.zeros(interval, dtype=torch.float64)
        # Host-side counters: known without reading the device.
        self.num_iou_records = 0
        self.num_beta_records = 0
        self.pending_iters = 0

    # ------------------------------------------------------------------
    # values in force
    @property
    def iou_thr(self) -> float:
        """float: The IoU threshold in force for the assigner."""
        return float(self.bbox_assigner.pos_iou_thr)

    @property
    def beta(self) -> float:
        """float: The beta of the R-CNN SmoothL1 loss in force (nan for
        another box loss)."""
        return float(getattr(self.bbox_head.loss_bbox, "beta", math.nan))

    @property
    def dynamic_enabled(self) -> bool:
        """bool: Whether DLA or DSL is on."""
        cfg = self.dynamic_cfg
        return bool(cfg and (cfg["dynamic_label"] or cfg["dynamic_loss"]))

    def _set_iou_thr(self, thr: float) -> None:
        # As DynamicRoIHead: no ignore zone, no low-quality positives below.
        self.bbox_assigner.pos_iou_thr = thr
        self.bbox_assigner.neg_iou_thr = thr
        self.bbox_assigner.min_pos_iou = thr

    # ------------------------------------------------------------------
    # training
    def loss(self, x: tuple[Tensor], rpn_results_list: InstanceList, batch_data_samples: SampleList) -> dict:
        """Compute the losses as ``StandardRoIHead`` does, then record the
        statistics and update threshold and beta every
        ``update_iter_interval`` iterations.

        Args:
            x (tuple[Tensor]): Multi-level image features.
            rpn_results_list (list[:obj:`InstanceData`]): Region proposals.
            batch_data_samples (list[:obj:`DetDataSample`]): The batch data
                samples with ``gt_instances``.

        Returns:
            dict[str, Tensor]: The loss components.
        """
        log = dict(iou_thr=self.iou_thr)
        if not math.isnan(self.beta):  # no beta for a non-SmoothL1 loss
            log["beta"] = self.beta
        self.last_log = log
        self._sampling_results: list[SamplingResult] = []
        self._bbox_targets: tuple | None = None
        if self.dynamic_enabled:
            self.bbox_assigner.records.clear()
        losses = super().loss(x, rpn_results_list, batch_data_samples)
        sampling_results, bbox_targets = self._sampling_results, self._bbox_targets
        self._sampling_results, self._bbox_targets = [], None
        num_imgs = max(len(batch_data_samples), 1)
        log["pos_per_img"] = sum(res.pos_inds.numel() for res in sampling_results) / num_imgs
        if not self.dynamic_enabled:
            return losses

        records = self.bbox_assigner.records
        iou_stat, beta_stat = self._statistics(records, sampling_results, bbox_targets, len(batch_data_samples))
        records.clear()
        if iou_stat is not None:
            self.iou_history = self._record(self.iou_history, iou_stat, self.num_iou_records)
            self.num_iou_records += 1
            log["iou_stat"] = iou_stat
        if beta_stat is not None:
            self.beta_history = self._record(self.beta_history, beta_stat, self.num_beta_records)
            self.num_beta_records += 1
            log["beta_stat"] = beta_stat

        self.pending_iters += 1
        if self.pending_iters >= self.dynamic_cfg["update_iter_interval"]:
            new_iou_thr, new_beta = self.update_hyperparameters()
            if self.dynamic_cfg["dynamic_label"]:
                log["updated_iou_thr"] = new_iou_thr
            if self.dynamic_cfg["dynamic_loss"]:
                log["updated_beta"] = new_beta
        return losses

    def bbox_loss(self, x: tuple[Tensor], sampling_results: list[SamplingResult]) -> dict:
        """``StandardRoIHead.bbox_loss``; also keeps the sampling results and
        the regression targets for the statistics of :meth:`loss`.

        Overridden whole, as ``DynamicRoIHead.bbox_loss`` is, because the
        targets the bbox head computes are not returned by
        ``StandardRoIHead.bbox_loss``: encoding them again for the beta
        statistic cost about 45 small device operations per iteration, each a
        kernel launch on a GPU: the likely reason this head's ``loss`` measured
        about 5 % slower than ``DynamicRoIHead``'s on an H200
        (benchmarks/results/2026-12-04_gpu_check_h200.txt).

        Args:
            x (tuple[Tensor]): Multi-level image features.
            sampling_results (list[:obj:`SamplingResult`]): Sampling results.

        Returns:
            dict: As ``StandardRoIHead.bbox_loss``.
        """
        rois = bbox2roi([res.priors for res in sampling_results])
        bbox_results = self._bbox_forward(x, rois)
        bbox_loss_and_target = self.bbox_head.loss_and_target(
            cls_score=bbox_results["cls_score"],
            bbox_pred=bbox_results["bbox_pred"],
            rois=rois,
            sampling_results=sampling_results,
            rcnn_train_cfg=self.train_cfg,
        )
        bbox_results.update(loss_bbox=bbox_loss_and_target["loss_bbox"])
        self._sampling_results = sampling_results
        self._bbox_targets = bbox_loss_and_target["bbox_targets"]
        return bbox_results

    @staticmethod
    def _record(history: Tensor, value: Tensor, index: int) -> Tensor:
        # History may come from a checkpoint on the CPU; device comparison is
        # host-side metadata, no synchronisation.
        if history.device != value.device:
            history = history.to(value.device)
        history[index] = value
        return history

    # ------------------------------------------------------------------
    # statistics (device tensors only: no .item() here)
    def _statistics(
        self, records: list, sampling_results: list[SamplingResult], bbox_targets: tuple | None, num_imgs: int
    ) -> tuple[Tensor | None, Tensor | None]:
        """This iteration's raw IoU and beta statistics.

        Args:
            records (list[tuple]): ``(priors, gt_bboxes, AssignResult)`` of
                each image, as recorded by the assigner.
            sampling_results (list[:obj:`SamplingResult`]): Sampling results.
            bbox_targets (tuple, optional): ``(labels, label_weights,
                bbox_targets, bbox_weights)`` of the sampled RoIs, as the bbox
                head computed them for its loss.
            num_imgs (int): Images in the batch.

        Returns:
            tuple[Tensor | None, Tensor | None]: 0-dim device tensors, None
            for a switched-off component or when no statistic exists in this
            iteration (no proposals, no positives).
        """
        cfg = self.dynamic_cfg
        if cfg["statistics"] == "official":
            # one pass gives both
            iou_stat, beta_stat = self._official_statistics(records, num_imgs)
        else:
            iou_stat = self._mmdet_iou_statistic(records) if cfg["dynamic_label"] else None
            beta_stat = (
                self._mmdet_beta_statistic(sampling_results, bbox_targets, num_imgs) if cfg["dynamic_loss"] else None
            )
        return (iou_stat if cfg["dynamic_label"] else None, beta_stat if cfg["dynamic_loss"] else None)

    def _mmdet_iou_statistic(self, records: list) -> Tensor | None:
        """``iou_topk``-th largest IoU of each image (proposals plus the
        ground truths the sampler added), mean over the images."""
        k_cfg = self.dynamic_cfg["iou_topk"]
        per_img = []
        for _, _, assign_result in records:
            overlaps = assign_result.max_overlaps
            if overlaps.numel() == 0:
                continue  # no proposal and no ground truth: nothing to rank
            k = min(k_cfg, overlaps.numel())
            per_img.append(torch.topk(overlaps, k)[0][-1])
        if not per_img:
            return None
        return torch.stack(per_img).double().mean()

    def _mmdet_beta_statistic(
        self, sampling_results: list[SamplingResult], bbox_targets: tuple, num_imgs: int
    ) -> Tensor | None:
        """``beta_topk x images``-th smallest mean(|dx|, |dy|) of the sampled
        positives' regression targets (the bbox head's own, as
        ``DynamicRoIHead`` takes them).

        The positives are the rows with a regression weight; the others are
        set to +inf rather than dropped, so that no device-to-host read is
        needed (``k`` is at most the number of positives, a host-side count).
        """
        num_pos = sum(res.pos_inds.numel() for res in sampling_results)
        if num_pos == 0:
            return None
        _, _, targets, weights = bbox_targets
        errors = targets[:, :2].abs().mean(dim=1).masked_fill(weights[:, 0] <= 0, math.inf)
        k = min(self.dynamic_cfg["beta_topk"] * num_imgs, num_pos)
        return torch.kthvalue(errors, k)[0].double()

    def _official_statistics(self, records: list, num_imgs: int) -> tuple[Tensor | None, Tensor | None]:
        """The authors' statistics over all proposals of the batch with the
        ground-truth boxes included.

        A proposal's IoU and regression target are taken with respect to its
        assigned ground truth; an unassigned proposal is paired with the
        image's first ground truth (``matched_idxs.clamp(min=0)`` in the
        authors' code). Images without ground truth contribute nothing.
        """
        ious, errors = [], []
        for priors, gt_bboxes, assign_result in records:
            gt_bboxes = get_box_tensor(gt_bboxes)
            num_gts = gt_bboxes.size(0)
            if num_gts == 0:
                continue
            num_priors = priors.size(0)
            # The sampler may have prepended the ground truths in place;
            # the proposals' assignment is the tail either way.
            matched = (assign_result.gt_inds[assign_result.gt_inds.numel() - num_priors :] - 1).clamp(min=0)
            boxes = torch.cat([gt_bboxes, priors[:, :4]])
            matched = torch.cat([torch.arange(num_gts, device=matched.device), matched])
            matched_gts = gt_bboxes[matched]
            ious.append(bbox_overlaps(boxes, matched_gts, is_aligned=True))
            targets = self.bbox_head.bbox_coder.encode(boxes, matched_gts)
            errors.append(targets[:, :2].abs().mean(dim=1))
        if not ious:
            return None, None
        ious, errors = torch.cat(ious), torch.cat(errors)
        k_iou = min(self.dynamic_cfg["iou_topk"] * num_imgs, ious.numel())
        k_beta = min(self.dynamic_cfg["beta_topk"] * num_imgs, errors.numel())
        return (torch.topk(ious, k_iou)[0][-1].double(), torch.kthvalue(errors, k_beta)[0].double())

    # ------------------------------------------------------------------
    # update (the one host read per interval)
    def update_hyperparameters(self) -> tuple[float, float]:
        """Update IoU threshold and beta from the pending statistics and
        clear them.

        Returns:
            tuple[float, float]: The IoU threshold and beta in force from the
            next iteration.
        """
        cfg = self.dynamic_cfg
        iou_hist = self.iou_history[: self.num_iou_records]
        beta_hist = self.beta_history[: self.num_beta_records]
        if cfg["sync_across_ranks"] and dist.get_world_size() > 1:
            if cfg["dynamic_label"]:
                iou_hist = self._gather(self.iou_history, self.num_iou_records)
            if cfg["dynamic_loss"]:
                beta_hist = self._gather(self.beta_history, self.num_beta_records)
        iou_mean = iou_hist.mean() if iou_hist.numel() else None
        beta_median = self._median(beta_hist) if beta_hist.numel() else None
        # The one host read of the interval.
        pending = [v for v in (iou_mean, beta_median) if v is not None]
        values = iter(torch.stack([v.to(pending[0].device) for v in pending]).tolist() if pending else [])
        iou_mean = math.nan if iou_mean is None else next(values)
        beta_median = math.nan if beta_median is None else next(values)

        new_iou_thr, new_beta = self.iou_thr, self.beta
        if cfg["dynamic_label"] and not math.isnan(iou_mean):
            new_iou_thr = max(cfg["initial_iou"], iou_mean)
            self._set_iou_thr(new_iou_thr)
        if cfg["dynamic_loss"] and not math.isnan(beta_median) and beta_median >= EPS:
            new_beta = min(cfg["initial_beta"], beta_median)
            self.bbox_head.loss_bbox.beta = new_beta
        self.num_iou_records = 0
        self.num_beta_records = 0
        self.pending_iters = 0
        return new_iou_thr, new_beta

    def _median(self, values: Tensor) -> Tensor:
        """``numpy.median`` (mean of the two middle values) for 'mmdet', the
        upper median ``sorted(S)[len(S) // 2]`` for 'official'."""
        ordered = values.sort()[0]
        n = ordered.numel()
        if self.dynamic_cfg["statistics"] == "official":
            return ordered[n // 2]
        return (ordered[(n - 1) // 2] + ordered[n // 2]) / 2

    @staticmethod
    def _gather(history: Tensor, count: int) -> Tensor:
        """Valid history entries of all ranks, concatenated."""
        counts = dist.all_gather(torch.tensor([count], device=history.device))
        histories = dist.all_gather(history)
        # One read of the counts per update interval.
        counts = torch.cat(counts).tolist()
        return torch.cat([h[:c] for h, c in zip(histories, counts)])

    # ------------------------------------------------------------------
    # checkpointing
    def dynamic_state(self) -> dict:
        """The dynamic training state, for a checkpoint.

        Returns:
            dict: IoU thresholds, beta, pending statistics (CPU tensors) and
            the iteration counter of the pending interval.
        """
        if not self.dynamic_enabled:
            return {}
        assigner = self.bbox_assigner
        return dict(
            pos_iou_thr=float(assigner.pos_iou_thr),
            neg_iou_thr=float(assigner.neg_iou_thr),
            min_pos_iou=float(assigner.min_pos_iou),
            beta=self.beta,
            iou_history=self.iou_history[: self.num_iou_records].cpu(),
            beta_history=self.beta_history[: self.num_beta_records].cpu(),
            pending_iters=self.pending_iters,
            statistics=self.dynamic_cfg["statistics"],
        )

    def load_dynamic_state(self, state: dict) -> None:
        """Restore :meth:`dynamic_state`; only the parts whose switch is on.

        Args:
            state (dict): As returned by :meth:`dynamic_state`.
        """
        if not self.dynamic_enabled or not state:
            return
        cfg = self.dynamic_cfg
        interval = cfg["update_iter_interval"]
        if cfg["dynamic_label"]:
            self.bbox_assigner.pos_iou_thr = state["pos_iou_thr"]
            self.bbox_assigner.neg_iou_thr = state["neg_iou_thr"]
            self.bbox_assigner.min_pos_iou = state["min_pos_iou"]
            self.num_iou_records = self._load_history(self.iou_history, state["iou_history"][:interval])
        if cfg["dynamic_loss"]:
            self.bbox_head.loss_bbox.beta = state["beta"]
            self.num_beta_records = self._load_history(self.beta_history, state["beta_history"][:interval])
        self.pending_iters = min(int(state["pending_iters"]), interval)

    @staticmethod
    def _load_history(history: Tensor, saved: Tensor) -> int:
        history[: saved.numel()] = saved.to(history.device, history.dtype)
        return saved.numel()
