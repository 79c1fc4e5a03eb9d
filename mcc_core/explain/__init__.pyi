from ._maps import (
    FeatureMaps as FeatureMaps,
)
from ._maps import (
    FilterSpectra as FilterSpectra,
)
from ._maps import (
    feature_maps as feature_maps,
)
from ._maps import (
    filter_frequency_response as filter_frequency_response,
)
from ._maps import (
    grad_cam as grad_cam,
)
from ._maps import (
    mc_band_cyc_per_mm as mc_band_cyc_per_mm,
)
from ._maps import (
    mean_f2 as mean_f2,
)
from ._plots import (
    plot_feature_maps as plot_feature_maps,
)
from ._plots import (
    plot_filter_spectra as plot_filter_spectra,
)
from ._plots import (
    plot_grad_cam as plot_grad_cam,
)
from ._plots import (
    plot_mean_f2 as plot_mean_f2,
)

__all__ = [
    "FeatureMaps",
    "FilterSpectra",
    "feature_maps",
    "filter_frequency_response",
    "grad_cam",
    "mc_band_cyc_per_mm",
    "mean_f2",
    "plot_feature_maps",
    "plot_filter_spectra",
    "plot_grad_cam",
    "plot_mean_f2",
]
