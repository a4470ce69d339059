"""The domain: records and units. Imports nothing of gridshift's outside this package, does no I/O.

Nomenclature (DESIGN.md §1): a *zone* is a grid region named by its Electricity Maps id; a
*signal* is a zone's time series of one kind; a *forecast* is a signal predicted as of a time; a
*cluster* is a pool of GPUs in one zone; a *job* is finite work with a window and levers; a *plan*
gives each job a cluster and run segments, with the reason.
"""

from gridshift.domain.cluster import (
    EXECUTORS,
    Cluster,
    GpuPowerProfile,
    PowerCapWindow,
    SitePowerCap,
    Tariff,
    TariffKind,
)
from gridshift.domain.errors import (
    ConfigError,
    GridshiftError,
    InternalError,
    NotFoundError,
    ProviderAuthError,
    ProviderError,
    ProviderRequestError,
    ProviderUnavailableError,
    SignalDataError,
    UserError,
)
from gridshift.domain.forecast import Forecast
from gridshift.domain.job import Elastic, Interruptible, Job, JobKind, Priority
from gridshift.domain.plan import (
    Infeasible,
    JobPlan,
    Objective,
    ObjectiveMode,
    Outcome,
    Plan,
    Segment,
)
from gridshift.domain.signal import DEFAULT_UNIT, Quality, Series, SignalKind, check_zone

__all__ = [
    "DEFAULT_UNIT",
    "EXECUTORS",
    "Cluster",
    "ConfigError",
    "Elastic",
    "Forecast",
    "GpuPowerProfile",
    "GridshiftError",
    "Infeasible",
    "InternalError",
    "Interruptible",
    "Job",
    "JobKind",
    "JobPlan",
    "NotFoundError",
    "Objective",
    "ObjectiveMode",
    "Outcome",
    "Plan",
    "PowerCapWindow",
    "Priority",
    "ProviderAuthError",
    "ProviderError",
    "ProviderRequestError",
    "ProviderUnavailableError",
    "Quality",
    "Segment",
    "Series",
    "SignalDataError",
    "SignalKind",
    "SitePowerCap",
    "Tariff",
    "TariffKind",
    "UserError",
    "check_zone",
]
