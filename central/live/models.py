"""Wall display tokens: a TV at a plant's gate shows one site's numbers with a token in its URL, no sign-in."""
from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from central.people.models import Site


class DisplayToken(models.Model):
    """The key of one wall display, bound to one site. Only the SHA-256 of the token is kept; the token (in the
    display's URL) is shown once, when it is made. A revoked token opens nothing."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="display_tokens", verbose_name=_("站点 Site"))
    name = models.CharField(_("名称 Name"), max_length=100)
    digest = models.CharField(max_length=64, unique=True)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def active(self) -> bool:
        return self.revoked_at is None
