"""Errors the stand-in answers with, carrying the AWS error code and HTTP status."""


class LocalServiceError(Exception):
    """An AWS-shaped error: the hook turns it into the service's own error response."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class ValidationException(LocalServiceError):
    def __init__(self, message: str):
        super().__init__("ValidationException", message, 400)


class ResourceNotFound(LocalServiceError):
    def __init__(self, message: str):
        super().__init__("ResourceNotFound", message, 400)


class ResourceInUse(LocalServiceError):
    def __init__(self, message: str):
        super().__init__("ResourceInUse", message, 400)


class UnsupportedOperation(LocalServiceError):
    """Any operation the stand-in does not serve: never a silent success."""

    def __init__(self, service: str, operation: str):
        super().__init__(
            "UnsupportedOperation",
            f"The local SageMaker stand-in does not implement {service}.{operation}. "
            "Use the aws backend (SAGEMAKER_BACKEND=aws) for this call.",
            501,
        )
