"""Model group serializers: a group, its strategy and its members as model strings.

Input is only shaped and range-checked here; the rules (models exist, one kind, usable,
weights and quotas) live in `providers.services.group`."""

from rest_framework import serializers

from providers.models import ModelGroup, ModelGroupMember, RoutingStrategy


class GroupMemberSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model_config.model_string", read_only=True)

    class Meta:
        model = ModelGroupMember
        fields = ["model", "weight", "rpm_limit", "tpm_limit", "enabled"]
        read_only_fields = fields


class GroupSerializer(serializers.ModelSerializer):
    """A model group as stored; callers use `model_string` wherever a model is accepted."""

    model_string = serializers.CharField(read_only=True)
    members = GroupMemberSerializer(many=True, read_only=True)

    class Meta:
        model = ModelGroup
        fields = [
            "name",
            "model_string",
            "strategy",
            "enabled",
            "description",
            "members",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class GroupMemberWriteSerializer(serializers.Serializer):
    model = serializers.CharField(max_length=300, help_text="A model string, `slug:name`.")
    weight = serializers.IntegerField(required=False, min_value=0, max_value=1_000_000)
    rpm_limit = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=100_000_000
    )
    tpm_limit = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=10_000_000_000
    )
    enabled = serializers.BooleanField(required=False)


class GroupWriteSerializer(serializers.Serializer):
    """What PUT accepts: the whole group (omitted optional fields take their defaults)."""

    strategy = serializers.ChoiceField(
        choices=RoutingStrategy.choices, required=False, default=RoutingStrategy.WEIGHTED
    )
    enabled = serializers.BooleanField(required=False, default=True)
    description = serializers.CharField(
        required=False, allow_blank=True, max_length=2000, default=""
    )
    members = GroupMemberWriteSerializer(many=True, max_length=50)  # type: ignore[call-arg]
