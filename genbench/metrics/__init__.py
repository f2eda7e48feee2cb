"""Every number in a genbench report: functions on tensors of images.

reconstruction: MSE, BCE, PSNR, SSIM. features + fidelity: FID, KID,
precision/recall (torch-fidelity) in a named feature space. wavelet: FWD,
the Fréchet distance of wavelet packets (no network). likelihood:
importance-weighted bound, on binarised or dequantised pixels. classifier: the
dataset classifier and conditional accuracy. labels: the classifier's label statistics
(confident share, classes covered, label KL). timing: parameters, sampling rate,
peak memory.
"""

from genbench.metrics.calibration import calibration_sets
from genbench.metrics.classifier import (
    ClassifierSettings,
    conditional_accuracy,
    load_classifier,
    load_or_train,
)
from genbench.metrics.copying import CopyReport, collapse_check, copy_detection, nearest_neighbours
from genbench.metrics.density import density_coverage
from genbench.metrics.features import (
    EXTRACTORS,
    FeatureSpace,
    FidelityError,
    extract_features,
    inception_space,
    real_features,
)
from genbench.metrics.fidelity import fidelity_metrics, kid_subset_size, metrics_from_features
from genbench.metrics.labels import label_metrics, label_statistics
from genbench.metrics.likelihood import (
    bits_per_dim,
    dequantize,
    likelihood_metrics,
    likelihood_notes,
    negative_log_likelihood,
)
from genbench.metrics.reconstruction import (
    reconstruct_all,
    reconstruction_errors,
    reconstruction_metrics,
)
from genbench.metrics.selfsupervised import (
    SelfSupervisedSettings,
    SelfSupervisedSpace,
    load_or_train_encoder,
    selfsupervised_space,
)
from genbench.metrics.timing import generate, machine, parameter_count
from genbench.metrics.uncertainty import bootstrap_intervals, mean_std, rank_agreement
from genbench.metrics.wavelet import (
    PacketStats,
    WaveletUnavailable,
    frechet_wavelet_distance,
    fwd,
    packet_level,
    packet_statistics,
)

__all__ = ["EXTRACTORS", "ClassifierSettings", "FeatureSpace", "FidelityError",
           "bits_per_dim", "conditional_accuracy", "dequantize", "extract_features",
           "fidelity_metrics", "generate", "inception_space", "kid_subset_size",
           "likelihood_metrics", "machine", "likelihood_notes", "load_classifier", "load_or_train",
           "metrics_from_features", "negative_log_likelihood", "parameter_count",
           "real_features",
           "reconstruct_all", "reconstruction_errors", "reconstruction_metrics"]
__all__ += ["CopyReport", "SelfSupervisedSettings", "SelfSupervisedSpace",
            "bootstrap_intervals", "calibration_sets", "collapse_check",
            "copy_detection", "density_coverage", "load_or_train_encoder", "mean_std",
            "nearest_neighbours", "rank_agreement", "selfsupervised_space"]
__all__ += ["label_metrics", "label_statistics"]
__all__ += ["PacketStats", "WaveletUnavailable", "frechet_wavelet_distance", "fwd",
            "packet_level", "packet_statistics"]
