"""Sliding-window inference with the windows of an image run as one batch, and
the official Segmenter / DEPICT padding convention."""
import math
from typing import List

import torch
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from torch import Tensor

__all__ = ['BatchedSlideEncoderDecoder', 'slide_windows']


def slide_windows(height: int, width: int, crop: tuple[int, int],
                  stride: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """The windows of mmseg's ``slide_inference``, as (y1, y2, x1, x2).

    Windows start every ``stride`` pixels; the last one in each direction is
    shifted back to end at the border, so every window has the same size,
    ``min(crop, image)`` per axis (an image smaller than the crop gives one
    unpadded, possibly non-square window).
    """
    (h_crop, w_crop), (h_stride, w_stride) = crop, stride
    h_grids = max(height - h_crop + h_stride - 1, 0) // h_stride + 1
    w_grids = max(width - w_crop + w_stride - 1, 0) // w_stride + 1
    windows = []
    for h_idx in range(h_grids):
        for w_idx in range(w_grids):
            y2 = min(h_idx * h_stride + h_crop, height)
            x2 = min(w_idx * w_stride + w_crop, width)
            windows.append((max(y2 - h_crop, 0), y2, max(x2 - w_crop, 0), x2))
    return windows


@MODELS.register_module()
class BatchedSlideEncoderDecoder(EncoderDecoder):
    """mmseg's ``EncoderDecoder`` whose sliding-window inference can batch windows.

    mmseg runs the windows of a slide inference one at a time; for a ViT-T on a
    2048x512 image that is a dozen small forward passes that leave most of the
    hardware idle. Here up to ``test_cfg.windows_per_batch`` windows (of every
    image in the batch) go through the network together. The result is the
    same as mmseg's (same windows, same overlap averaging; up to float
    rounding), so the option only trades memory for speed::

        test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341),
                      windows_per_batch=8)

    ``windows_per_batch=1`` (the default) runs mmseg's own loop.

    ``test_cfg.pad_to_patch=P`` follows the official Segmenter / DEPICT code
    (``segm/model/segmenter.py``): an input whose size is not a multiple of the
    patch size P is padded (the backbone's corner padding does that here), the
    grid logits are upsampled to the PADDED size and then cropped, instead of
    mmseg's resize of the grid logits straight to the unpadded size. Both agree
    when the size is a multiple of P; otherwise the official logits are the
    padded map's top-left part, shifted by up to P/2 pixels from mmseg's::

        test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(480, 480),
                      pad_to_patch=16)
    """

    def encode_decode(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        multiple = int((self.test_cfg or {}).get('pad_to_patch', 0) or 0)
        if multiple <= 0:
            return super().encode_decode(inputs, batch_img_metas)
        # The size the head would resize to (mmseg's predict_by_feat rule).
        meta = batch_img_metas[0]
        sliding = isinstance(meta['img_shape'], torch.Size)
        height, width = meta['img_shape'] if sliding or 'pad_shape' not in meta \
            else meta['pad_shape'][:2]
        padded = (math.ceil(height / multiple) * multiple, math.ceil(width / multiple) * multiple)
        padded_shape = torch.Size(padded) if sliding else padded
        padded_metas = [dict(m, img_shape=padded_shape, pad_shape=padded) for m in batch_img_metas]
        if sliding:  # keep predict_by_feat on its img_shape branch
            for m in padded_metas:
                m.pop('pad_shape')
        feats = self.extract_feat(inputs)
        # (B, C, H_pad, W_pad) -> (B, C, H, W): the padding's rows/columns dropped.
        logits = self.decode_head.predict(feats, padded_metas, self.test_cfg)
        return logits[:, :, :height, :width]

    def slide_inference(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        windows_per_batch = int(self.test_cfg.get('windows_per_batch', 1))
        if windows_per_batch <= 1:
            return super().slide_inference(inputs, batch_img_metas)

        batch_size, _, height, width = inputs.shape
        windows = slide_windows(height, width, self.test_cfg.crop_size, self.test_cfg.stride)
        # Every window has the same size, so the crops stack into one batch:
        # n x (B, 3, hc, wc) -> (n*B, 3, hc, wc), window-major.
        crops = torch.cat([inputs[:, :, y1:y2, x1:x2] for y1, y2, x1, x2 in windows])
        crop_shape = crops.shape[2:]
        # Heads resize their output to img_shape (set per window, as mmseg does).
        crop_metas = [dict(meta, img_shape=crop_shape) for _ in windows for meta in batch_img_metas]

        preds = inputs.new_zeros((batch_size, self.out_channels, height, width))
        count = inputs.new_zeros((batch_size, 1, height, width))
        for first in range(0, len(windows), windows_per_batch):
            group = windows[first:first + windows_per_batch]
            rows = slice(first * batch_size, (first + len(group)) * batch_size)
            # (n_group*B, C, hc, wc), window-major; accumulated straight into preds.
            logits = self.encode_decode(crops[rows], crop_metas[rows])
            for index, (y1, y2, x1, x2) in enumerate(group):
                preds[:, :, y1:y2, x1:x2] += logits[index * batch_size:(index + 1) * batch_size]
                count[:, :, y1:y2, x1:x2] += 1
        return preds.div_(count)
